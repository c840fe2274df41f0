-- The Megaphone link protocol, version 1 (docs/link-protocol.md): frame
-- encoders and an incremental decoder. No I/O, no Prosody state: the same
-- job as mod_megaphone/src/megaphone_codec.erl on the ejabberd side.
--
-- Connection ids travel as their raw 8 bytes: the module uses them as table
-- keys and echoes them back, so no 64-bit arithmetic is ever needed (Lua 5.2
-- numbers are doubles). `id_number` turns one into a number for logs.
--
-- Loaded with module:require("megaphone_codec"); plain Lua otherwise.

local s_byte, s_char, s_sub = string.byte, string.char, string.sub;
local t_concat = table.concat;
local floor = math.floor;

local M = {};

-- docs/link-protocol.md "Frame types".
M.HELLO, M.AUTH, M.AUTH_OK = 0x01, 0x02, 0x03;
M.PING, M.PONG = 0x04, 0x05;
M.STATS_REQUEST, M.STATS_REPLY = 0x06, 0x07;
M.OPEN, M.STREAM_START, M.DATA, M.RESTART, M.CLOSE = 0x10, 0x11, 0x12, 0x13, 0x14;
M.ERROR = 0x20;

M.type_names = {
	[0x01] = "hello", [0x02] = "auth", [0x03] = "auth_ok", [0x04] = "ping",
	[0x05] = "pong", [0x06] = "stats_request", [0x07] = "stats_reply",
	[0x10] = "open", [0x11] = "stream_start", [0x12] = "data",
	[0x13] = "restart", [0x14] = "close", [0x20] = "error",
};

-- docs/link-protocol.md "Errors".
M.error_codes = {
	["auth-failed"] = 1, ["unsupported-version"] = 2, ["not-authenticated"] = 3,
	["frame-too-large"] = 4, ["frame-too-short"] = 5, ["unknown-type"] = 6,
	["bad-frame"] = 7, ["unknown-connection"] = 8, ["duplicate-connection"] = 9,
	["bad-xml"] = 10, ["wrong-direction"] = 11, ["session-limit"] = 12,
	["internal"] = 13,
};

-- `length` counts the connection id (8 bytes) and the type (1 byte) too.
local MIN_LENGTH = 9;
M.MIN_LENGTH = MIN_LENGTH;
M.CONTROL = "\0\0\0\0\0\0\0\0";

local function u16(n) return s_char(floor(n / 256) % 256, n % 256); end
local function u32(n)
	return s_char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256);
end
local function get_u16(s, i)
	local a, b = s_byte(s, i, i + 1);
	return a * 256 + b;
end
local function get_u32(s, i)
	local a, b, c, d = s_byte(s, i, i + 3);
	return ((a * 256 + b) * 256 + c) * 256 + d;
end
M.u16, M.u32, M.get_u16, M.get_u32 = u16, u32, get_u16, get_u32;

function M.id_number(id)
	return get_u32(id, 1) * 4294967296 + get_u32(id, 5);
end

--------------------------------------------------------------------------
-- Decoder: a state machine fed whatever chunks the socket delivers. It
-- holds at most one frame of at most `max` bytes: an oversized frame is
-- reported with its connection id and discarded as it arrives (never
-- buffered), an undersized one is reported and skipped, so the link stays
-- usable ("Maximum frame size").
--------------------------------------------------------------------------
local decoder_mt = {};
decoder_mt.__index = decoder_mt;

function M.new_decoder(max)
	return setmetatable({ buf = "", skip = 0, max = max }, decoder_mt);
end

-- The limit changes once, when the handshake succeeds (1,024 bytes before).
function decoder_mt:set_max(max) self.max = max; end

-- Feeds one chunk; calls on_event(kind, ...) for each complete event, in
-- order: ("frame", id, type, data), ("too_large", id, length),
-- ("too_short", length). on_event returns false to stop decoding (the link
-- is being closed); the rest of the input is then dropped.
function decoder_mt:feed(chunk, on_event)
	local buf = self.buf .. chunk;
	local pos, len = 1, #buf;
	while true do
		if self.skip > 0 then
			local avail = len - pos + 1;
			if avail < self.skip then
				self.skip = self.skip - avail;
				pos = len + 1;
				break;
			end
			pos = pos + self.skip;
			self.skip = 0;
		end
		if len - pos + 1 < 4 then break; end
		local length = get_u32(buf, pos);
		if length < MIN_LENGTH then
			pos = pos + 4;
			self.skip = length;
			if on_event("too_short", length) == false then self.buf = ""; return; end
		elseif length > self.max then
			if len - pos + 1 < 12 then break; end
			local id = s_sub(buf, pos + 4, pos + 11);
			pos = pos + 12;
			self.skip = length - 8;
			if on_event("too_large", id, length) == false then self.buf = ""; return; end
		else
			if len - pos + 1 < 4 + length then break; end
			local id = s_sub(buf, pos + 4, pos + 11);
			local ftype = s_byte(buf, pos + 12);
			local data = s_sub(buf, pos + 13, pos + 3 + length);
			pos = pos + 4 + length;
			if on_event("frame", id, ftype, data) == false then self.buf = ""; return; end
		end
	end
	self.buf = s_sub(buf, pos);
end

--------------------------------------------------------------------------
-- Encoders. Every function returns the whole frame as one string, so that a
-- single conn:write() carries it and frames never interleave.
--------------------------------------------------------------------------
local function frame(id, ftype, data)
	return u32(#data + MIN_LENGTH) .. id .. s_char(ftype) .. data;
end
M.frame = frame;

-- A str16 holds at most 65,535 bytes; values here are stream ids, domains
-- and conditions, far below that, but never emit a corrupt frame.
local function str16(s)
	s = s or "";
	if #s > 0xffff then s = s_sub(s, 1, 0xffff); end
	return u16(#s) .. s;
end
M.str16 = str16;

function M.hello(min_version, max_version, nonce)
	return frame(M.CONTROL, M.HELLO, u16(min_version) .. u16(max_version) .. nonce);
end
function M.auth_ok(mac) return frame(M.CONTROL, M.AUTH_OK, mac); end
function M.ping(opaque) return frame(M.CONTROL, M.PING, opaque); end
function M.pong(opaque) return frame(M.CONTROL, M.PONG, opaque); end
function M.stats_reply(req_id, on_link, on_node)
	return frame(M.CONTROL, M.STATS_REPLY,
		u32(req_id) .. u32(math.min(on_link, 0xffffffff)) .. u32(math.min(on_node, 0xffffffff)));
end
function M.stream_start(id, stream_id, from, version, lang)
	return frame(id, M.STREAM_START, t_concat({ str16(stream_id), str16(from), str16(version), str16(lang) }));
end
function M.data(id, xml) return frame(id, M.DATA, xml); end
function M.close(id, condition, text)
	return frame(id, M.CLOSE, str16(condition) .. (text or ""));
end
function M.error(id, name, text)
	local code = M.error_codes[name] or M.error_codes.internal;
	return frame(id, M.ERROR, u16(code) .. (text or ""));
end

--------------------------------------------------------------------------
-- Parsers for what the edge sends. Each returns nil and a reason when the
-- data is shorter than its layout; trailing bytes are ignored ("Versioning").
--------------------------------------------------------------------------
function M.parse_auth(data)
	if #data < 2 + 32 + 32 then return nil, "AUTH: fields too short"; end
	return get_u16(data, 1), s_sub(data, 3, 34), s_sub(data, 35, 66);
end

function M.parse_ping(data)
	if #data < 8 then return nil, "PING: 8 bytes expected"; end
	return s_sub(data, 1, 8);
end

function M.parse_stats_request(data)
	if #data < 4 then return nil, "STATS_REQUEST: u32 expected"; end
	return get_u32(data, 1);
end

-- Reads a str16 at i; returns the string and the index after it.
local function read_str16(data, i)
	if #data < i + 1 then return nil; end
	local n = get_u16(data, i);
	if #data < i + 1 + n then return nil; end
	return s_sub(data, i + 2, i + 1 + n), i + 2 + n;
end
M.read_str16 = read_str16;

local transports = { [0] = "bosh", [1] = "websocket" };

-- OPEN: u8 transport, str16 to, str16 client ip, u16 client port, str16 xml:lang.
-- Returns a table, or nil and why. The caller checks UTF-8 and the address,
-- which need Prosody's own libraries.
function M.parse_open(data)
	local short = "OPEN: fields shorter than their lengths";
	if #data < 1 then return nil, short; end
	local transport = transports[s_byte(data, 1)];
	local to, i = read_str16(data, 2);
	if not to then return nil, short; end
	local ip; ip, i = read_str16(data, i);
	if not ip or #data < i + 1 then return nil, short; end
	local port = get_u16(data, i);
	local lang = read_str16(data, i + 2);
	if not lang then return nil, short; end
	if not transport then return nil, "OPEN: unknown transport"; end
	return { transport = transport, to = to, ip = ip, port = port, lang = lang };
end

-- CLOSE: str16 condition, then optional text. An empty CLOSE is a logout.
function M.parse_close(data)
	if data == "" then return ""; end
	return read_str16(data, 1);
end

return M;
