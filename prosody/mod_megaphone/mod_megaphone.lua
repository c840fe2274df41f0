-- mod_megaphone for Prosody 0.12: accepts links from Megaphone edges.
--
-- An edge terminates the browsers' BOSH and WebSocket connections and
-- multiplexes every session over one authenticated TCP link
-- (docs/link-protocol.md, version 1). Each connection id on a link runs
-- here as an ordinary c2s session (SASL, bind, roster, offline messages,
-- MUC...) with no socket of its own, built as mod_bosh builds its sessions
-- (megaphone_session.lib.lua). The frames are megaphone_codec.lib.lua.
--
-- Global module (modules_enabled in the global section); the listener is a
-- Prosody network service, "megaphone", on loopback unless configured
-- otherwise (megaphone_ports, megaphone_interfaces). See README.md.

module:set_global();

local hashes = require "util.hashes";
local random_bytes = require "util.random".bytes;
local parse_xml = require "util.xml".parse;
local utf8_valid = require "util.encodings".utf8.valid;
local nameprep = require "util.encodings".stringprep.nameprep;
local new_ip = require "util.ip".new_ip;
local gettime = require "util.time".now;
local traceback = debug.traceback;
local codec = module:require("megaphone_codec");
local megaphone_session = module:require("megaphone_session");

local hmac_sha256, hash_equals = hashes.hmac_sha256, hashes.equals;
local id_number = codec.id_number;
local CONTROL = codec.CONTROL;

local PROTOCOL_MIN, PROTOCOL_MAX = 1, 1;
-- docs/link-protocol.md "Maximum frame size": before AUTH_OK an
-- unauthenticated peer can make us hold at most this much.
local PRE_AUTH_MAX_FRAME = 1024;
local EDGE_LABEL, BACKEND_LABEL = "megaphone-link-edge", "megaphone-link-backend";

-- Every limit is an option (README.md lists them).
local secret = module:get_option_string("megaphone_secret");
local max_frame_size = module:get_option_number("megaphone_max_frame_size", 65536 + 9);
local max_sessions = module:get_option_number("megaphone_max_sessions", 0); -- 0: no limit
local max_session_queue = module:get_option_number("megaphone_max_session_queue", 1000);
local handshake_timeout = module:get_option_number("megaphone_handshake_timeout", 5);
local heartbeat_timeout = module:get_option_number("megaphone_heartbeat_timeout", 30);
local consider_secure = module:get_option_boolean("megaphone_consider_secure", true);

if not secret or #secret < 16 then
	module:log("error", "megaphone_secret must be set to at least 16 characters; refusing every link");
	secret = nil;
end
if max_frame_size < PRE_AUTH_MAX_FRAME + 9 then
	module:log("warn", "megaphone_max_frame_size %d is below %d; using %d", max_frame_size,
		PRE_AUTH_MAX_FRAME + 9, PRE_AUTH_MAX_FRAME + 9);
	max_frame_size = PRE_AUTH_MAX_FRAME + 9;
end

-- conn -> link state
local links = {};

--------------------------------------------------------------------------
-- Link state
--------------------------------------------------------------------------
local link_mt = {};
link_mt.__index = link_mt;

local function peer(conn) return ("%s:%s"):format(conn:ip() or "?", conn:port() or "?"); end

function link_mt:write(frame)
	if self.down or self.closing then return false; end
	return self.conn:write(frame);
end

function link_mt:forget(id)
	if self.sessions[id] then
		self.sessions[id] = nil;
		self.count = self.count - 1;
	end
end

function link_mt:error(id, name, text)
	self:write(codec.error(id, name, text));
end

-- Sends ERROR on connection 0 and closes: the handshake failed.
function link_mt:refuse(name, text)
	self:error(CONTROL, name, text);
	self:shut();
	return false;
end

-- Closes the link; what arrives until the close completes is ignored.
function link_mt:shut()
	if self.down or self.closing then return; end
	self.closing = true;
	self.conn:close();
end

--------------------------------------------------------------------------
-- The handshake (docs/link-protocol.md "Handshake"; XEP-0114 §3 is the
-- model, with HMAC-SHA-256 and proof in both directions)
--------------------------------------------------------------------------
function link_mt:handshake(id, ftype, data)
	if id ~= CONTROL or ftype ~= codec.AUTH then
		return self:refuse("not-authenticated", "the first frame must be AUTH on connection 0");
	end
	local version, ne, mac_e = codec.parse_auth(data);
	if not version then return self:refuse("bad-frame", ne); end
	if version < PROTOCOL_MIN or version > PROTOCOL_MAX then
		return self:refuse("unsupported-version", ("version %d; this backend speaks 1"):format(version));
	end
	if not secret then return self:refuse("auth-failed", "no secret is configured"); end
	local nb = self.nonce;
	local expected = hmac_sha256(secret, EDGE_LABEL .. nb .. ne);
	-- compared in constant time (util.hashes.equals is CRYPTO_memcmp)
	if not hash_equals(expected, mac_e) then
		module:log("warn", "Megaphone link from %s: wrong secret", self.peer);
		return self:refuse("auth-failed", "the handshake MAC did not match");
	end
	self:write(codec.auth_ok(hmac_sha256(secret, BACKEND_LABEL .. ne .. nb)));
	self.phase = "open";
	self.nonce = nil;
	self.dec:set_max(max_frame_size);
	module:log("info", "Megaphone link from %s authenticated", self.peer);
	-- Each side considers the link dead when it has received no frame at
	-- all for its timeout ("Heartbeats").
	self.heartbeat = module:add_timer(math.max(heartbeat_timeout / 3, 0.1), function ()
		if self.down then return; end
		if gettime() - self.last_recv > heartbeat_timeout then
			module:log("warn", "Megaphone link from %s: nothing received for %ds, closing", self.peer, heartbeat_timeout);
			self:shut();
			return;
		end
		return math.max(heartbeat_timeout / 3, 0.1);
	end);
	return true;
end

--------------------------------------------------------------------------
-- Frames on connection 0
--------------------------------------------------------------------------
local function c2s_sessions_on_node()
	local n = 0;
	for _ in pairs(prosody.full_sessions) do n = n + 1; end
	return n;
end

function link_mt:control(ftype, data)
	if ftype == codec.PING then
		local opaque, why = codec.parse_ping(data);
		if opaque then self:write(codec.pong(opaque)); else self:error(CONTROL, "bad-frame", why); end
	elseif ftype == codec.PONG then -- luacheck: ignore 542
		-- answers our own pings; receiving it was enough (last_recv)
	elseif ftype == codec.STATS_REQUEST then
		local req_id, why = codec.parse_stats_request(data);
		if req_id then
			self:write(codec.stats_reply(req_id, self.count, c2s_sessions_on_node()));
		else
			self:error(CONTROL, "bad-frame", why);
		end
	elseif ftype == codec.ERROR then
		self:log_peer_error(CONTROL, data);
	elseif codec.type_names[ftype] then
		self:error(CONTROL, "wrong-direction", codec.type_names[ftype] .. " on connection 0");
	else
		self:error(CONTROL, "unknown-type", ("type %d"):format(ftype));
	end
	return true;
end

function link_mt:log_peer_error(id, data)
	if #data >= 2 then
		module:log("info", "Megaphone link from %s: the edge reports error %d on connection %d: %s",
			self.peer, codec.get_u16(data, 1), id_number(id), data:sub(3));
	else
		module:log("info", "Megaphone link from %s: malformed ERROR on connection %d", self.peer, id_number(id));
	end
end

--------------------------------------------------------------------------
-- Frames for a session
--------------------------------------------------------------------------
function link_mt:open(id, data)
	if self.sessions[id] then
		return self:error(id, "duplicate-connection", "OPEN for a live id");
	end
	if max_sessions > 0 and self.count >= max_sessions then
		return self:error(id, "session-limit", ("%d sessions on this link"):format(max_sessions));
	end
	local open, why = codec.parse_open(data);
	if not open then return self:error(id, "bad-frame", why); end
	if not utf8_valid(open.to) or not utf8_valid(open.lang) then
		return self:error(id, "bad-frame", "OPEN: bad UTF-8");
	end
	if not new_ip(open.ip) then return self:error(id, "bad-frame", "OPEN: bad client ip"); end
	-- An unusable domain is not a frame error: the session opens and ends
	-- with the stream error host-unknown, as mod_c2s answers a bad 'to'.
	open.to = nameprep(open.to) or open.to;
	local session = megaphone_session.new(self, id, open, consider_secure);
	self.sessions[id] = session;
	self.count = self.count + 1;
	session.log("debug", "Megaphone session %d opened for %s (%s)", id_number(id), open.ip, open.transport);
	session.megaphone_open();
end

-- A session Prosody destroyed by itself (an admin kick, a module) without
-- going through its close method: tell the edge, forget the id.
function link_mt:live(id)
	local session = self.sessions[id];
	if session and session.destroyed then
		self:forget(id);
		self:write(codec.close(id, ""));
		return nil;
	end
	return session;
end

function link_mt:data(id, data)
	local session = self:live(id);
	if not session then return self:error(id, "unknown-connection", "no such connection"); end
	-- docs/link-protocol.md DATA: exactly one well-formed element. util.xml
	-- refuses a second element, text after it, DOCTYPEs and comments.
	if not utf8_valid(data) then return self:error(id, "bad-frame", "DATA: bad UTF-8"); end
	local stanza, err;
	if data:find("^%s*<[^?!]") then stanza, err = parse_xml(data); else err = "not an element"; end
	if not stanza then
		self:error(id, "bad-xml", err);
		-- RFC 6120 §4.9.3.13: the stream ends with not-well-formed; our
		-- CLOSE follows the ERROR ("Errors").
		session.megaphone_close_with("not-well-formed");
		return;
	end
	if session.megaphone_queued() >= max_session_queue then
		module:log("warn", "Megaphone session %d: %d stanzas waiting, closing", id_number(id), max_session_queue);
		session.megaphone_close_with("policy-violation", true);
		return;
	end
	session.megaphone_stanza(stanza);
end

function link_mt:restart(id)
	local session = self:live(id);
	if not session then return self:error(id, "unknown-connection", "no such connection"); end
	-- XEP-0206 §5 / RFC 7395 §3.3.3: a new stream header, as after SASL.
	session.megaphone_open();
end

function link_mt:close(id, data)
	local session = self.sessions[id];
	-- It may have crossed our own CLOSE on the wire: nothing to say.
	if not session then return; end
	if session.destroyed then self:live(id); return; end
	local condition = codec.parse_close(data) or "";
	session.megaphone_close(condition);
end

function link_mt:session_frame(id, ftype, data)
	if ftype == codec.OPEN then return self:open(id, data);
	elseif ftype == codec.DATA then return self:data(id, data);
	elseif ftype == codec.RESTART then return self:restart(id);
	elseif ftype == codec.CLOSE then return self:close(id, data);
	elseif ftype == codec.ERROR then return self:log_peer_error(id, data);
	elseif codec.type_names[ftype] then
		return self:error(id, "wrong-direction", codec.type_names[ftype] .. " from the edge");
	end
	return self:error(id, "unknown-type", ("type %d"):format(ftype));
end

-- One decoder event. Returns false once the link is being closed.
function link_mt:event(kind, a, b, c)
	if kind == "too_short" then
		if self.phase == "hello" then
			-- Before AUTH, one ERROR and the close: an unauthenticated peer
			-- cannot make us answer frame after frame.
			return self:refuse("not-authenticated", ("length %d before authentication"):format(a));
		end
		self:error(CONTROL, "frame-too-short", ("length %d is below 9; skipped"):format(a));
		return true;
	elseif kind == "too_large" then
		if self.phase == "hello" then
			-- An unauthenticated peer gets no second chance.
			return self:refuse("frame-too-large", ("length %d before authentication"):format(b));
		end
		self:error(a, "frame-too-large", ("length %d is above %d; skipped"):format(b, max_frame_size));
		return true;
	end
	local id, ftype, data = a, b, c;
	if self.phase == "hello" then return self:handshake(id, ftype, data); end
	if id == CONTROL then return self:control(ftype, data); end
	-- Unexpected input is logged and refused, never a crash of the listener:
	-- a failure while handling one frame is an `internal` ERROR for that
	-- connection, which then ends.
	local ok, err = xpcall(self.session_frame, traceback, self, id, ftype, data);
	if not ok then
		module:log("error", "Megaphone link from %s, connection %d, frame type %d: %s",
			self.peer, id_number(id), ftype, err);
		self:error(id, "internal", "the session failed");
		local session = self.sessions[id];
		if session and not session.destroyed then
			pcall(session.close, session, "internal-server-error");
		end
		self:forget(id);
	end
	return true;
end

--------------------------------------------------------------------------
-- The network listener
--------------------------------------------------------------------------
local listener = {};

function listener.onconnect(conn)
	local nonce = random_bytes(32);
	local link = setmetatable({
		conn = conn, peer = peer(conn), phase = "hello", nonce = nonce,
		dec = codec.new_decoder(PRE_AUTH_MAX_FRAME), sessions = {}, count = 0,
		last_recv = gettime(),
	}, link_mt);
	links[conn] = link;
	module:log("debug", "Megaphone link from %s: connected", link.peer);
	link:write(codec.hello(PROTOCOL_MIN, PROTOCOL_MAX, nonce));
	module:add_timer(handshake_timeout, function ()
		if link.phase == "hello" and not link.down then
			module:log("warn", "Megaphone link from %s: no handshake within %ds", link.peer, handshake_timeout);
			link:shut();
		end
	end);
end

function listener.onincoming(conn, data)
	local link = links[conn];
	if not link or link.down or link.closing then return; end
	link.last_recv = gettime();
	link.dec:feed(data, function (kind, a, b, c) return link:event(kind, a, b, c); end);
end

-- When the link is lost, every connection of that link ends ("Sessions").
function listener.ondisconnect(conn, err)
	local link = links[conn];
	if not link then return; end
	links[conn] = nil;
	link.down = true;
	if link.heartbeat then link.heartbeat:stop(); end
	if link.phase == "open" then
		module:log("info", "Megaphone link from %s down (%s): %d sessions end", link.peer, err or "closed", link.count);
	end
	local sessions = link.sessions;
	link.sessions, link.count = {}, 0;
	for _, session in pairs(sessions) do
		if not session.destroyed then
			local ok, e = pcall(session.megaphone_lost, "Megaphone link lost");
			if not ok then module:log("error", "ending a session of a lost link: %s", e); end
		end
	end
end

-- The heartbeat decides when a silent link is dead, not the network
-- backend's read timeout.
function listener.onreadtimeout(conn)
	return links[conn] ~= nil;
end

module:provides("net", {
	name = "megaphone";
	listener = listener;
	default_port = 5290;
	-- private: loopback (local_interfaces) unless megaphone_interfaces says otherwise
	private = true;
});

function module.unload()
	for _, link in pairs(links) do link:shut(); end
end
