-- One connection id on a Megaphone link, run as a c2s session inside Prosody
-- with no socket of its own (docs/link-protocol.md "Sessions").
--
-- Prosody's own mod_bosh builds its sessions the same way: a plain session
-- table (util.session) with send/close/reset_stream methods, a util.async
-- runner that calls core_process_stanza, and "stanzas/in"/"stanzas/out"
-- filters; the SASL, bind, roster, offline and MUC modules see an ordinary
-- c2s session. What differs is where bytes go: every element the session
-- sends becomes one DATA frame written on the link's connection, and every
-- stream header one STREAM_START frame.
--
-- Input arrives already split into elements (each DATA frame holds exactly
-- one), so no XML stream parser is kept per session: each frame is parsed
-- on its own (util.xml) and given the namespaces util.xmppstream would have
-- given it inside a jabber:client stream.

local st = require "util.stanza";
local sessionlib = require "util.session";
local initialize_filters = require "util.filters".initialize;
local runner = require "util.async".runner;
local new_uuid = require "util.uuid".generate;
local sm_destroy_session = require "core.sessionmanager".destroy_session;
local codec = module:require("megaphone_codec");

local core_process_stanza = prosody.core_process_stanza;
local hosts = prosody.hosts;
local tostring, type = tostring, type;

local xmlns_client = "jabber:client";
local xmlns_streams = "http://etherx.jabber.org/streams";
local xmlns_xmpp_streams = "urn:ietf:params:xml:ns:xmpp-streams";

local M = {};

-- util.xmppstream leaves xmlns off elements in the stream's default
-- namespace (jabber:client) and sets it on every element of any other
-- namespace and on all their descendants; core and modules rely on that
-- (e.g. stanza.attr.xmlns == nil for a client's <message/>).
local function as_in_stream(el, inherited_foreign, lang)
	local foreign = inherited_foreign or (el.attr.xmlns ~= nil and el.attr.xmlns ~= xmlns_client);
	if not foreign and el.attr.xmlns == xmlns_client then
		el.attr.xmlns = nil;
	elseif foreign and el.attr.xmlns == nil then
		el.attr.xmlns = ""; -- an element in no namespace, as util.xmppstream reports it
	end
	for _, child in ipairs(el.tags) do as_in_stream(child, foreign); end
	-- util.xmppstream stamps the stream's xml:lang on each top-level element.
	if lang and el.attr["xml:lang"] == nil then el.attr["xml:lang"] = lang; end
	return el;
end
M.as_in_stream = as_in_stream;

-- RFC 6120 §4.9.3: the condition is the child in the streams namespace
-- that is not <text/>.
local function stream_error_condition(err)
	for child in err:childtags(nil, xmlns_xmpp_streams) do
		if child.name ~= "text" then return child.name; end
	end
	return "undefined-condition";
end

-- A close reason as mod_c2s takes it (string condition, stanza, or
-- { condition, text, extra }) made into a <stream:error/>.
local function stream_error(reason)
	if st.is_stanza(reason) then return reason; end
	local err = st.stanza("stream:error");
	if type(reason) == "string" then
		err:tag(reason, { xmlns = xmlns_xmpp_streams }):up();
	elseif type(reason) == "table" and reason.condition then
		err:tag(reason.condition, { xmlns = xmlns_xmpp_streams }):up();
		if reason.text then
			err:tag("text", { xmlns = xmlns_xmpp_streams }):text(reason.text):up();
		end
		if reason.extra then err:add_child(reason.extra); end
	else
		err:tag("undefined-condition", { xmlns = xmlns_xmpp_streams }):up();
	end
	return err;
end

-- Creates the session for OPEN(id). `link` provides write(frame) and
-- forget(id); `open` is the parsed OPEN frame; `secure` whether SASL
-- mechanisms that need an encrypted stream may be offered (the edge
-- terminates TLS, so Prosody cannot see it).
function M.new(link, id, open, secure)
	local session = sessionlib.new("c2s");
	sessionlib.set_id(session);
	sessionlib.set_logger(session);
	session.ip = open.ip;
	session.megaphone_port = open.port;
	session.megaphone_transport = open.transport;
	session.megaphone_id = id;
	session.secure = secure;
	session.notopen = true;
	session.requested_host = open.to;
	local lang = open.lang ~= "" and open.lang or nil;
	session.lang = lang;
	session.conntime = os.time();
	local filter = initialize_filters(session);
	local closed = false;

	local function write(frame) return link:write(frame); end

	function session.send(s)
		if closed then return false; end
		if type(s) == "string" then
			-- Whitespace keepalives mean nothing on the link: the edge keeps
			-- the browsers' connections alive itself.
			if not s:find("%S") then return true; end
			-- Anything else is serialized XML from a module that wrote
			-- it by hand; it goes out as it is, one frame.
			return write(codec.data(id, s));
		end
		s = filter("stanzas/out", s);
		if not s then return true; end
		-- docs/link-protocol.md DATA: each element stands alone, so it
		-- carries the namespaces it would have inherited from the stream.
		if s.name:find("^stream:") then
			if not s.attr["xmlns:stream"] then
				s = st.clone(s);
				s.attr["xmlns:stream"] = xmlns_streams;
			end
		elseif not s.attr.xmlns then
			s = st.clone(s);
			s.attr.xmlns = xmlns_client;
		end
		return write(codec.data(id, tostring(s)));
	end

	-- Called by mod_saslauth after SASL success; the new header comes with
	-- the edge's RESTART (XEP-0206 §5, RFC 7395 §3.3.3).
	function session.reset_stream(sess) sess.notopen = true; end

	-- The reply stream header as a STREAM_START frame, with a new stream id
	-- each time (XEP-0206's authid is the first one); stream_opened below
	-- sends the features after it, as mod_c2s's stream open does.
	function session.open_stream(sess)
		sess.streamid = new_uuid();
		write(codec.stream_start(id, sess.streamid, sess.host or sess.requested_host, "1.0", lang or ""));
		sess.notopen = nil;
	end

	local function stream_opened(sess)
		if not sess.host then
			local host = sess.requested_host;
			if not host or not hosts[host] or hosts[host].type ~= "local" then
				sess:close({ condition = "host-unknown", text = "This server does not serve "..tostring(host) });
				return;
			end
			sess.host = host;
		end
		sess:open_stream();
		local features = st.stanza("stream:features");
		hosts[sess.host].events.fire_event("stream-features", { origin = sess, features = features });
		if features.tags[1] or sess.full_jid then
			sess.send(features);
		else
			sess:close({ condition = "undefined-condition", text = "No stream features to proceed with" });
		end
	end

	-- reason: nil = a normal end from our side, false = the edge ended it
	-- (a logout), anything else is a stream error (mod_c2s's convention).
	function session.close(sess, reason)
		if closed then return; end
		if sess.host and hosts[sess.host] then
			local payload = { session = sess, reason = reason };
			module:context(sess.host):fire_event("pre-session-close", payload);
			reason = payload.reason;
		end
		local condition = "";
		if reason then
			if sess.notopen and not sess.streamid then sess:open_stream(); end
			local err = stream_error(reason);
			condition = stream_error_condition(err);
			sess.send(err);
		end
		closed = true;
		write(codec.close(id, condition));
		link:forget(id);
		sess.log("debug", "Megaphone session %d closed: %s", codec.id_number(id), condition ~= "" and condition or "normal end");
		sm_destroy_session(sess, condition ~= "" and condition or nil);
	end

	-- The edge's CLOSE (after any input still queued, in order). An empty
	-- condition is a logout, like </stream:stream>; anything else is the
	-- browser's connection gone, like a socket close, which leaves a
	-- session with stream management resumable.
	local function edge_closed(sess, condition)
		if closed then return; end
		if condition == "" then
			sess:close(false);
			return;
		end
		closed = true;
		write(codec.close(id, ""));
		link:forget(id);
		sess.log("debug", "Megaphone session %d ended by the edge: %s", codec.id_number(id), condition);
		sm_destroy_session(sess, "Disconnected: "..condition);
	end

	-- One queue per session, in order: stream headers, stanzas, the close.
	session.thread = runner(function (item)
		if item.megaphone == "open" then
			stream_opened(session);
		elseif item.megaphone == "close" then
			edge_closed(session, item.condition);
		elseif item.megaphone == "error" then
			session:close(item.condition);
		elseif not closed then
			core_process_stanza(session, item);
		end
	end, {
		error = function (_, err) session.log("error", "Traceback[megaphone]: %s", err); end;
	}, session);

	-- For the link: queued work, and the link's own end.
	function session.megaphone_open() session.thread:run({ megaphone = "open" }); end
	function session.megaphone_stanza(stanza)
		stanza = filter("stanzas/in", as_in_stream(stanza, false, lang));
		if stanza then session.thread:run(stanza); end
	end
	function session.megaphone_close(condition) session.thread:run({ megaphone = "close", condition = condition }); end
	-- Ends the session with a stream error: after the input already queued
	-- (bad XML), or at once (too much input queued).
	function session.megaphone_close_with(condition, now)
		if now then session:close(condition); return; end
		session.thread:run({ megaphone = "error", condition = condition });
	end
	function session.megaphone_queued() return #session.thread.queue; end
	-- The link is gone: no frame can be written any more.
	function session.megaphone_lost(why)
		if closed then return; end
		closed = true;
		sm_destroy_session(session, why);
	end
	function session.megaphone_closed() return closed; end

	return session;
end

return M;
