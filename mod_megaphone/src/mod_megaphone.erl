%%%----------------------------------------------------------------------
%%% File    : mod_megaphone.erl
%%% Purpose : Megaphone edges reach ejabberd over one framed TCP link each;
%%%           every connection id on a link runs as a real ejabberd_c2s
%%%           session, with no socket per user on the server.
%%%
%%% Like mod_mqtt, this module is both a gen_mod (under `modules:`) and an
%%% ejabberd_listener (under `listen:`). The link itself is megaphone_link,
%%% the frames megaphone_codec, the per-session socket megaphone_session.
%%%----------------------------------------------------------------------
-module(mod_megaphone).
-behaviour(gen_mod).
-behaviour(ejabberd_listener).

%% gen_mod
-export([start/2, stop/1, reload/3, depends/2, mod_options/1, mod_opt_type/1,
         mod_doc/0]).
%% ejabberd_listener
-export([start/3, start_link/3, accept/1, listen_options/0, listen_opt_type/1]).
%% for megaphone_link
-export([listen_opt/2]).

%%====================================================================
%% gen_mod
%%====================================================================
%% The links are owned by the listener. The module entry runs the announcer
%% (megaphone_announce: jobs the edge starts with API_REQUEST), once per node.
start(Host, Opts) -> megaphone_announce:start(Host, Opts).
stop(Host) -> megaphone_announce:stop(Host).
%% Options are read when a job is admitted or pruned: nothing to redo.
reload(_Host, _NewOpts, _OldOpts) -> ok.
depends(_Host, _Opts) -> [].
mod_options(_Host) ->
    [{max_announce_jobs, 8},
     {announce_retention, timer:hours(24 * 7)}].
mod_opt_type(max_announce_jobs) -> econf:pos_int();
mod_opt_type(announce_retention) -> econf:timeout(day).

mod_doc() ->
    #{desc =>
          [<<"Accepts links from Megaphone edges. An edge terminates "
             "the browsers' BOSH and WebSocket connections and multiplexes "
             "every session over one authenticated TCP link; each session "
             "runs here as an ordinary ejabberd_c2s session (SASL, roster, "
             "offline messages, MUC...) without a socket of its own.">>,
           <<"Configure it under 'listen:' (the options below) and, "
             "optionally, under 'modules:'. Keep an ordinary ejabberd_c2s "
             "listener: c2s takes its access, shaper and max_stanza_size "
             "from the first one.">>],
      opts =>
          [{max_announce_jobs, #{value => "pos_integer()",
                                 desc => <<"Announcement jobs running at once on this node "
                                           "(under 'modules:'); more are refused with "
                                           "too-many-jobs. Default 8.">>}},
           {announce_retention, #{value => "timeout()",
                                  desc => <<"How long a finished announcement job's state and "
                                            "counts are kept in Mnesia (under 'modules:'). "
                                            "Default 7 days.">>}},
           {secret, #{value => "string",
                      desc => <<"Shared secret the edge proves it knows (HMAC-SHA-256 "
                                "challenge/response, compared in constant time). Required.">>}},
           {max_frame_size, #{value => "pos_integer()",
                              desc => <<"Largest frame accepted, in bytes of 'length'. "
                                        "Larger frames are skipped and reported. Default 65545.">>}},
           {max_sessions, #{value => "pos_integer() | infinity",
                            desc => <<"Sessions one link may hold. Default infinity.">>}},
           {max_session_buffer, #{value => "pos_integer()",
                                  desc => <<"Bytes of input held for one session that "
                                            "c2s has not read yet; past it the session "
                                            "ends with policy-violation. Default 1048576.">>}},
           {ip, #{value => "IP address",
                  desc => <<"Address the listener binds to. Required (ejabberd "
                            "would bind every address otherwise): use 127.0.0.1 or "
                            "a private interface; c2s trusts the client addresses "
                            "the link reports.">>}},
           {send_timeout, #{value => "timeout()",
                            desc => <<"ejabberd's own listener option, honoured on the link: "
                                      "a write to the edge that cannot complete for this long "
                                      "closes the link (send_timeout_close), so an edge that "
                                      "stops reading ends its sessions instead of blocking "
                                      "them. Default 15 seconds.">>}},
           {handshake_timeout, #{value => "timeout()",
                                 desc => <<"Time an edge has to authenticate. Default 5 seconds.">>}},
           {heartbeat_timeout, #{value => "timeout()",
                                 desc => <<"A link that sends nothing for this long is closed "
                                           "(the edge pings every 10 s). Default 30 seconds.">>}},
           {idle_gc, #{value => "timeout()",
                       desc => <<"Interval of the sweep that garbage-collects c2s "
                                 "processes idle since the previous sweep, so that an "
                                 "idle session does not keep its login heap. 0 disables. "
                                 "Default 10 seconds.">>}}]}.

%%====================================================================
%% ejabberd_listener
%%====================================================================
start(SockMod, Sock, Opts) -> megaphone_link:start(SockMod, Sock, Opts).
start_link(SockMod, Sock, Opts) -> megaphone_link:start_link(SockMod, Sock, Opts).
accept(Pid) -> megaphone_link:accept(Pid).

%% An atom is a required option (ejabberd_listener:validator/2).
%%
%% `ip` is required: ejabberd 23.01's listener binds to the address given
%% under `listen:` before any module default applies (ejabberd_listener:
%% prepare_opts/1 takes it with 0.0.0.0 as the fallback), so a module default
%% cannot keep the link on loopback; requiring it makes the operator choose.
%% c2s trusts the client address the link reports: keep it private.
listen_options() ->
    [secret,
     ip,
     {max_frame_size, 65545},
     {max_sessions, infinity},
     {max_session_buffer, 1048576},
     {handshake_timeout, timer:seconds(5)},
     {heartbeat_timeout, timer:seconds(30)},
     {idle_gc, timer:seconds(10)}].

%% Only our own options: ejabberd_listener falls back to its own validators
%% when this raises, and a catch-all here would swallow `ip`, `port`...
listen_opt_type(secret) -> econf:binary("^.{16,}$");
listen_opt_type(max_frame_size) -> econf:int(9 + 1024, 16#7fffffff);
listen_opt_type(max_sessions) -> econf:pos_int(infinity);
listen_opt_type(max_session_buffer) -> econf:pos_int();
listen_opt_type(handshake_timeout) -> econf:timeout(second);
listen_opt_type(heartbeat_timeout) -> econf:timeout(second);
listen_opt_type(idle_gc) -> econf:either(econf:int(0, 0), econf:timeout(second)).

%% The listener passes only the options that differ from their defaults,
%% ours or ejabberd_listener's (send_timeout is one of its own).
-spec listen_opt(atom(), [{atom(), term()}]) -> term().
listen_opt(Name, Opts) ->
    case lists:keyfind(Name, 1, Opts) of
        {_, Value} -> Value;
        false -> proplists:get_value(Name, listen_options() ++ ejabberd_listener:listen_options())
    end.
