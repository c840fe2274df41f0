%%%----------------------------------------------------------------------
%%% File    : megaphone_link.erl
%%% Purpose : One link from a Megaphone edge: handshake, heartbeats, and the
%%%           c2s sessions of every connection id it carries.
%%%
%%% The process owns the TCP socket and reads it with {packet, 0}: the
%%% framing (docs/link-protocol.md) is done by megaphone_codec rather than by
%%% {packet, 4}, because an oversized frame must be skipped and reported
%%% without buffering it or closing the link, which {packet, 4} cannot do.
%%%
%%% Each session is a plain ejabberd_c2s process whose "socket" is a
%%% #megaphone_socket{} (megaphone_session). This process is that socket's
%%% owner: c2s monitors it, so when the link goes, every session goes.
%%%----------------------------------------------------------------------
-module(megaphone_link).
-behaviour(gen_server).

-export([start/3, start_link/3, accept/1]).
%% for debugging (`ejabberdctl debug`) and the fault tests
-export([links/0, sessions_info/1, parse_element/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2,
         code_change/3]).

-include_lib("p1_xmpp/include/xmpp.hrl").
-include("logger.hrl").
-include("megaphone.hrl").

-define(PROTOCOL_VERSIONS, {1, 1}).
%% docs/link-protocol.md "Maximum frame size": before AUTH_OK an
%% unauthenticated peer can make us hold at most this much.
-define(PRE_AUTH_MAX_FRAME, 1024).
%% STATS_REQUESTs that may wait for one count of the node's sessions.
-define(MAX_STATS_WAITING, 64).
-define(EDGE_LABEL, <<"megaphone-link-edge">>).
-define(BACKEND_LABEL, <<"megaphone-link-backend">>).

-record(sess, {pid :: pid(),
               mon :: reference(),
               socket :: #megaphone_socket{},
               %% c2s asked for input (setopts active once) and got none yet
               active = false :: boolean(),
               %% c2s has asked for input at least once: it has been accepted
               accepted = false :: boolean(),
               %% input waiting for c2s to ask, newest first, and its size
               buf = [] :: [term()],
               buf_bytes = 0 :: non_neg_integer(),
               to :: binary(),
               lang :: binary(),
               %% the stream error condition c2s sent, carried into CLOSE
               condition = <<>> :: binary(),
               %% idle GC bookkeeping: reductions seen at the last sweep
               reds = 0 :: non_neg_integer(),
               collected = false :: boolean(),
               %% ejabberd's c2s shaper for this session (change_shaper), and
               %% whether its input is held back until the shaper's pause ends
               shaper = none :: none | p1_shaper:state(),
               held = false :: boolean(),
               %% input items that had to wait for the shaper (sessions_info/1)
               deferred = 0 :: non_neg_integer()}).

-record(state, {sock :: gen_tcp:socket(),
                peer :: {inet:ip_address(), inet:port_number()} | undefined,
                phase = hello :: hello | open,
                nonce = <<>> :: binary(),
                secret :: binary(),
                dec :: megaphone_codec:decoder(),
                max_frame :: pos_integer(),
                max_sessions :: pos_integer() | infinity,
                max_buffer :: pos_integer(),
                heartbeat_timeout :: pos_integer(),
                handshake_timeout :: pos_integer(),
                send_timeout :: pos_integer() | infinity,
                idle_gc :: non_neg_integer(),
                last_recv = 0 :: integer(),
                %% the link's own heap (words) right after it last collected itself
                gc_heap = 0 :: non_neg_integer(),
                sessions = #{} :: #{pos_integer() => #sess{}},
                monitors = #{} :: #{reference() => pos_integer()},
                %% STATS_REQUEST ids waiting for the node's session count being
                %% taken (newest first), and the last count taken
                stats_waiting = [] :: [non_neg_integer()],
                node_sessions = 0 :: non_neg_integer()}).

%%====================================================================
%% ejabberd_listener entry points (through mod_megaphone)
%%====================================================================
-spec start(gen_tcp, gen_tcp:socket(), list()) -> {ok, pid()} | {error, term()}.
start(gen_tcp, Sock, Opts) ->
    gen_server:start(?MODULE, [Sock, Opts], []).

-spec start_link(gen_tcp, gen_tcp:socket(), list()) -> {ok, pid()} | {error, term()}.
start_link(gen_tcp, Sock, Opts) ->
    gen_server:start_link(?MODULE, [Sock, Opts], []).

-spec accept(pid()) -> ok.
accept(Pid) -> gen_server:cast(Pid, accept).

%% The link processes on this node (a scan of every process: for debugging).
-spec links() -> [pid()].
links() ->
    [P || P <- erlang:processes(),
          case proc_lib:initial_call(P) of
              {?MODULE, init, _} -> true;
              _ -> false
          end].

%% What the link holds for each of its sessions: whether ejabberd's c2s shaper
%% applies to it, whether its input is held back by that shaper now, how many
%% input items have waited for it, and the bytes of input c2s has not read.
-spec sessions_info(pid()) -> [#{atom() => term()}].
sessions_info(Link) ->
    gen_server:call(Link, sessions_info).

%%====================================================================
%% gen_server callbacks
%%====================================================================
init([Sock, Opts]) ->
    Get = fun(K) -> mod_megaphone:listen_opt(K, Opts) end,
    {ok, #state{sock = Sock,
                secret = Get(secret),
                max_frame = Get(max_frame_size),
                max_sessions = Get(max_sessions),
                max_buffer = Get(max_session_buffer),
                heartbeat_timeout = Get(heartbeat_timeout),
                handshake_timeout = Get(handshake_timeout),
                send_timeout = Get(send_timeout),
                idle_gc = Get(idle_gc),
                dec = megaphone_codec:new_decoder(?PRE_AUTH_MAX_FRAME)}}.

handle_call(sessions_info, _From, #state{sessions = Sessions} = State) ->
    Info = [#{id => Id, pid => Pid, shaped => Shaper /= none, held => Held,
              deferred => Deferred, buffered => Bytes}
            || {Id, #sess{pid = Pid, shaper = Shaper, held = Held, deferred = Deferred,
                          buf_bytes = Bytes}} <- lists:sort(maps:to_list(Sessions))],
    {reply, Info, State};
handle_call(Request, From, State) ->
    ?WARNING_MSG("Unexpected call from ~p: ~p", [From, Request]),
    {noreply, State}.

handle_cast(accept, #state{sock = Sock} = State) ->
    %% The listener hands the socket over only now (controlling_process).
    Peer = case inet:peername(Sock) of {ok, P} -> P; _ -> undefined end,
    Nonce = crypto:strong_rand_bytes(32),
    %% c2s processes write onto this socket from their own processes: an edge
    %% that stops reading would block every one of them. After send_timeout
    %% the write fails and (send_timeout_close) the socket closes, so the link
    %% goes down as a whole instead of wedging every session on it.
    case inet:setopts(Sock, [{active, once}, {send_timeout, State#state.send_timeout},
                             {send_timeout_close, true}]) of
        ok ->
            send(State, megaphone_codec:hello(?PROTOCOL_VERSIONS, Nonce)),
            erlang:send_after(State#state.handshake_timeout, self(), handshake_timeout),
            {noreply, State#state{peer = Peer, nonce = Nonce, last_recv = now_ms()}};
        {error, _} ->
            %% Gone before we got to it.
            {stop, normal, State}
    end;
handle_cast(Msg, State) ->
    ?WARNING_MSG("Unexpected cast: ~p", [Msg]),
    {noreply, State}.

handle_info({tcp, Sock, Chunk}, #state{sock = Sock, dec = Dec} = State) ->
    {Events, Dec1} = megaphone_codec:decode(Chunk, Dec),
    State1 = State#state{dec = Dec1, last_recv = now_ms()},
    case handle_events(Events, State1) of
        {ok, State2} ->
            ok = activate(Sock),
            {noreply, State2};
        {stop, State2} ->
            {stop, normal, State2}
    end;
handle_info({tcp_closed, Sock}, #state{sock = Sock} = State) ->
    {stop, normal, State};
handle_info({tcp_error, Sock, Reason}, #state{sock = Sock} = State) ->
    ?INFO_MSG("Megaphone link from ~ts: socket error ~p", [peer(State), Reason]),
    {stop, normal, State};
handle_info(handshake_timeout, #state{phase = hello} = State) ->
    ?WARNING_MSG("Megaphone link from ~ts: no handshake within ~B ms",
                 [peer(State), State#state.handshake_timeout]),
    {stop, normal, State};
handle_info(handshake_timeout, State) ->
    {noreply, State};
handle_info(heartbeat_check, #state{last_recv = Last, heartbeat_timeout = T} = State) ->
    case now_ms() - Last > T of
        true ->
            ?WARNING_MSG("Megaphone link from ~ts: nothing received for ~B ms, closing",
                         [peer(State), T]),
            {stop, normal, State};
        false ->
            schedule_heartbeat_check(State),
            {noreply, State}
    end;
handle_info(idle_gc, State) ->
    schedule_idle_gc(State),
    {noreply, self_gc(idle_gc_sweep(State))};
handle_info({garbage_collect, {megaphone_gc, Id}, _}, State) ->
    {noreply, update_session(Id, fun(S) -> S#sess{reds = reductions(S#sess.pid)} end, State)};
%% From c2s (megaphone_session callbacks)
handle_info({megaphone_node_sessions, Count}, #state{stats_waiting = Waiting,
                                                    sessions = Sessions} = State) ->
    N = case Count of error -> State#state.node_sessions; _ -> Count end,
    lists:foreach(fun(ReqId) ->
                          send(State, megaphone_codec:stats_reply(ReqId, maps:size(Sessions), N))
                  end, lists:reverse(Waiting)),
    {noreply, State#state{stats_waiting = [], node_sessions = N}};
handle_info({megaphone_active, Id, Pid}, State) ->
    {noreply, update_session(Id, fun(S) when S#sess.pid == Pid -> flush(S);
                                    (S) -> S end, State)};
handle_info({megaphone_shaper, Id, Pid, Shaper}, State) ->
    {noreply, update_session(Id, fun(S) when S#sess.pid == Pid -> set_shaper(Shaper, S);
                                    (S) -> S end, State)};
handle_info({megaphone_unhold, Id}, State) ->
    {noreply, update_session(Id, fun unhold/1, State)};
handle_info({megaphone_stream_error, Id, Condition}, State) ->
    {noreply, update_session(Id, fun(S) -> S#sess{condition = Condition} end, State)};
handle_info({megaphone_stream_end, Id}, State) ->
    {noreply, end_session(Id, keep, State)};
handle_info({megaphone_closed, Id, _Pid}, State) ->
    {noreply, end_session(Id, keep, State)};
handle_info({'DOWN', Mon, process, _Pid, Reason}, #state{monitors = Mons} = State) ->
    case maps:find(Mon, Mons) of
        {ok, Id} ->
            Condition = case Reason of
                            normal -> keep;
                            shutdown -> keep;
                            {shutdown, _} -> keep;
                            _ -> <<"internal-server-error">>
                        end,
            {noreply, end_session(Id, Condition, State)};
        error ->
            {noreply, State}
    end;
handle_info(Info, State) ->
    ?WARNING_MSG("Unexpected info: ~p", [Info]),
    {noreply, State}.

terminate(_Reason, #state{sock = Sock, sessions = Sessions} = State) ->
    case State#state.phase of
        open -> ?INFO_MSG("Megaphone link from ~ts down: ~B sessions end",
                          [peer(State), maps:size(Sessions)]);
        hello -> ok
    end,
    %% The c2s processes see this process go down (they monitor it) and end
    %% their streams; telling them too makes it prompt.
    maps:foreach(fun(_Id, #sess{pid = Pid, socket = S}) -> Pid ! {tcp_closed, S} end,
                 Sessions),
    gen_tcp:close(Sock).

code_change(_OldVsn, State, _Extra) -> {ok, State}.

%%====================================================================
%% Frames from the edge
%%====================================================================
handle_events([], State) ->
    {ok, State};
handle_events([Event | Rest], State) ->
    case handle_event(Event, State) of
        {ok, State1} -> handle_events(Rest, State1);
        {stop, _} = Stop -> Stop
    end.

handle_event({too_short, Len}, #state{phase = hello} = State) ->
    %% Before AUTH the peer gets one answer and the close, never an answer per
    %% frame: a stream of 4-byte frames must not make us send ten times as much.
    refuse(State, 'not-authenticated',
           io_lib:format("length ~B before authentication", [Len]));
handle_event({too_short, Len}, State) ->
    send(State, megaphone_codec:error(0, 'frame-too-short',
                                      io_lib:format("length ~B is below 9; skipped", [Len]))),
    {ok, State};
handle_event({too_large, Id, Len}, #state{phase = hello} = State) ->
    %% An unauthenticated peer gets no second chance.
    send(State, megaphone_codec:error(Id, 'frame-too-large',
                                      io_lib:format("length ~B before authentication", [Len]))),
    {stop, State};
handle_event({too_large, Id, Len}, #state{max_frame = Max} = State) ->
    send(State, megaphone_codec:error(Id, 'frame-too-large',
                                      io_lib:format("length ~B is above ~B; skipped", [Len, Max]))),
    {ok, State};
handle_event({frame, Id, Type, Data}, #state{phase = hello} = State) ->
    handshake(Id, megaphone_codec:type_name(Type), Data, State);
handle_event({frame, 0, Type, Data}, State) ->
    control(megaphone_codec:type_name(Type), Type, Data, State);
handle_event({frame, Id, Type, Data}, State) ->
    session_frame(megaphone_codec:type_name(Type), Type, Id, Data, State).

%% docs/link-protocol.md "Handshake" (XEP-0114 §3 is the model, with HMAC).
handshake(0, auth, Data, #state{nonce = Nb, secret = Secret} = State) ->
    case megaphone_codec:parse_auth(Data) of
        {ok, 1, Ne, MacE} ->
            Expected = crypto:mac(hmac, sha256, Secret, [?EDGE_LABEL, Nb, Ne]),
            %% compared in constant time
            case crypto:hash_equals(Expected, MacE) of
                true ->
                    MacB = crypto:mac(hmac, sha256, Secret, [?BACKEND_LABEL, Ne, Nb]),
                    send(State, megaphone_codec:auth_ok(MacB)),
                    ?INFO_MSG("Megaphone link from ~ts authenticated", [peer(State)]),
                    State1 = State#state{phase = open, nonce = <<>>,
                                         dec = megaphone_codec:set_max(State#state.dec,
                                                                       State#state.max_frame)},
                    schedule_heartbeat_check(State1),
                    schedule_idle_gc(State1),
                    {ok, State1};
                false ->
                    ?WARNING_MSG("Megaphone link from ~ts: wrong secret", [peer(State)]),
                    refuse(State, 'auth-failed', <<"the handshake MAC did not match">>)
            end;
        {ok, Version, _, _} ->
            refuse(State, 'unsupported-version',
                   io_lib:format("version ~B; this backend speaks 1", [Version]));
        error ->
            refuse(State, 'bad-frame', <<"AUTH: fields too short">>)
    end;
handshake(_Id, _Type, _Data, State) ->
    refuse(State, 'not-authenticated', <<"the first frame must be AUTH on connection 0">>).

refuse(State, Name, Text) ->
    send(State, megaphone_codec:error(0, Name, Text)),
    {stop, State}.

control(ping, _, Data, State) ->
    case megaphone_codec:parse_ping(Data) of
        {ok, Opaque} -> send(State, megaphone_codec:pong(Opaque));
        error -> send(State, megaphone_codec:error(0, 'bad-frame', <<"PING: 8 bytes expected">>))
    end,
    {ok, State};
control(pong, _, _Data, State) ->
    {ok, State};
control(stats_request, _, Data, State) ->
    case megaphone_codec:parse_stats_request(Data) of
        {ok, ReqId} ->
            {ok, stats_request(ReqId, State)};
        error ->
            send(State, megaphone_codec:error(0, 'bad-frame', <<"STATS_REQUEST: u32 expected">>)),
            {ok, State}
    end;
control(api_request, _, Data, #state{sock = Sock} = State) ->
    case megaphone_codec:parse_api_request(Data) of
        {ok, ReqId, Json} ->
            %% An announcement's recipients may take a while to list (a room's
            %% state, every session of the domain): the request runs in a
            %% process of its own, which writes API_REPLY straight onto the
            %% socket as c2s processes do, so the link keeps relaying sessions.
            proc_lib:spawn(fun() -> api_request(Sock, ReqId, Json) end);
        error ->
            send(State, megaphone_codec:error(0, 'bad-frame', <<"API_REQUEST: u32 expected">>))
    end,
    {ok, State};
control(error, _, Data, State) ->
    log_peer_error(0, Data, State),
    {ok, State};
control(unknown, Type, _Data, State) ->
    send(State, megaphone_codec:error(0, 'unknown-type', io_lib:format("type ~B", [Type]))),
    {ok, State};
control(Name, _, _Data, State) ->
    send(State, megaphone_codec:error(0, 'wrong-direction',
                                      io_lib:format("~ts on connection 0", [Name]))),
    {ok, State}.

%% ejabberd_sm:connected_users_number/0 lists every session of the node and
%% checks that each is alive (a signal round trip to each c2s process): never
%% in this process, which would hold every session of the link meanwhile. The
%% module fuzzer found it: STATS_REQUESTs while one user's sessions churned held
%% a link for over 20 s. One count runs at a time, in a process of its own;
%% requests that arrive meanwhile share its result, and past
%% ?MAX_STATS_WAITING of them a request gets the last count at once.
stats_request(ReqId, #state{stats_waiting = []} = State) ->
    Link = self(),
    proc_lib:spawn(fun() ->
                           N = try ejabberd_sm:connected_users_number()
                               catch _:_ -> error
                               end,
                           Link ! {megaphone_node_sessions, N}
                   end),
    State#state{stats_waiting = [ReqId]};
stats_request(ReqId, #state{stats_waiting = Waiting} = State)
  when length(Waiting) < ?MAX_STATS_WAITING ->
    State#state{stats_waiting = [ReqId | Waiting]};
stats_request(ReqId, #state{sessions = Sessions, node_sessions = N} = State) ->
    send(State, megaphone_codec:stats_reply(ReqId, maps:size(Sessions), N)),
    State.

session_frame(open, _, Id, Data, State) ->
    open_session(Id, Data, State);
session_frame(data, _, Id, Data, State) ->
    with_session(Id, State, fun(S) -> session_data(Id, Data, S, State) end);
session_frame(restart, _, Id, _Data, State) ->
    %% XEP-0206 §5 / RFC 7395 §3.3.3: a new stream header, as after SASL.
    with_session(Id, State, fun(S) -> {ok, put_session(Id, deliver(header(S), 0, S), State)} end);
session_frame(close, _, Id, Data, #state{sessions = Sessions} = State) ->
    case maps:find(Id, Sessions) of
        {ok, #sess{pid = Pid, socket = Socket, buf = Buf, accepted = Accepted}} ->
            Reason = case megaphone_codec:parse_close(Data) of {ok, C} -> C; error -> <<>> end,
            ?DEBUG("Megaphone session ~B closed by the edge: ~ts", [Id, Reason]),
            case Reason of
                <<>> when Accepted ->
                    %% A logout (BOSH type='terminate', RFC 7395 <close/>) is a
                    %% clean stream end, after any input still waiting: with
                    %% XEP-0198 on, only a clean end ends the session at once
                    %% instead of leaving it resumable (XEP-0198 §5).
                    Pid ! {tcp, Socket, lists:reverse([{xmlstreamend, <<"stream:stream">>} | Buf])};
                _ ->
                    %% Anything else (inactivity, client gone, shutdown) is the
                    %% connection lost, as a socket close would be; a client
                    %% with stream management may resume. Before c2s has been
                    %% accepted, any message ends it, which is what we want.
                    Pid ! {tcp_closed, Socket}
            end,
            {ok, end_session(Id, <<>>, State)};
        error ->
            %% It may have crossed our own CLOSE on the wire: nothing to say.
            {ok, State}
    end;
session_frame(error, _, Id, Data, State) ->
    log_peer_error(Id, Data, State),
    {ok, State};
session_frame(unknown, Type, Id, _Data, State) ->
    send(State, megaphone_codec:error(Id, 'unknown-type', io_lib:format("type ~B", [Type]))),
    {ok, State};
session_frame(Name, _, Id, _Data, State) ->
    send(State, megaphone_codec:error(Id, 'wrong-direction',
                                      io_lib:format("~ts from the edge", [Name]))),
    {ok, State}.

%%====================================================================
%% Sessions
%%====================================================================
open_session(Id, Data, #state{sessions = Sessions, max_sessions = Max} = State) ->
    case megaphone_codec:parse_open(Data) of
        _ when is_map_key(Id, Sessions) ->
            send(State, megaphone_codec:error(Id, 'duplicate-connection', <<"OPEN for a live id">>)),
            {ok, State};
        _ when Max /= infinity, map_size(Sessions) >= Max ->
            send(State, megaphone_codec:error(Id, 'session-limit',
                                              io_lib:format("~B sessions on this link", [Max]))),
            {ok, State};
        {error, Why} ->
            send(State, megaphone_codec:error(Id, 'bad-frame', Why)),
            {ok, State};
        {ok, Transport, To, IP, Port, Lang} ->
            Socket = #megaphone_socket{link = self(), sock = State#state.sock, id = Id,
                                       transport = case Transport of
                                                       bosh -> http_bind;
                                                       websocket -> websocket
                                                   end,
                                       peer = {IP, Port}},
            try megaphone_session:start(Socket, []) of
                {ok, Pid} ->
                    Mon = erlang:monitor(process, Pid),
                    S = #sess{pid = Pid, mon = Mon, socket = Socket, to = To, lang = Lang},
                    State1 = State#state{monitors = maps:put(Mon, Id, State#state.monitors)},
                    %% c2s reads the header once it has been accepted and asks.
                    {ok, put_session(Id, deliver(header(S), 0, S), State1)};
                {error, Reason} ->
                    start_failed(Id, Reason, State)
            catch Class:Reason ->
                    start_failed(Id, {Class, Reason}, State)
            end
    end.

start_failed(Id, Reason, State) ->
    ?WARNING_MSG("Megaphone session ~B: c2s failed to start: ~p", [Id, Reason]),
    send(State, megaphone_codec:error(Id, internal, <<"the session could not start">>)),
    {ok, State}.

session_data(Id, Data, S, #state{max_buffer = MaxBuf} = State) ->
    %% docs/link-protocol.md DATA: exactly one top-level element; no parser
    %% per session (fxml_stream:parse_element refuses junk after the element).
    case parse_element(Data) of
        #xmlel{} = El when S#sess.buf_bytes + byte_size(Data) =< MaxBuf ->
            {ok, put_session(Id, deliver(El, byte_size(Data), S), State)};
        #xmlel{} ->
            ?WARNING_MSG("Megaphone session ~B: ~B bytes of input waiting, above ~B; closing",
                         [Id, S#sess.buf_bytes + byte_size(Data), MaxBuf]),
            S#sess.pid ! {tcp_closed, S#sess.socket},
            {ok, end_session(Id, <<"policy-violation">>, State)};
        {error, Why} ->
            send(State, megaphone_codec:error(Id, 'bad-xml', Why)),
            %% c2s answers with <stream:error><not-well-formed/>, then the
            %% stream end, which becomes our CLOSE (RFC 6120 §4.9.3.13).
            %% Only this session ends; the link and the others carry on.
            {ok, put_session(Id, deliver({xmlstreamerror, {0, Why}}, 0, S), State)}
    end.

%% The job itself runs under mod_megaphone's supervisor (megaphone_announce),
%% not here: it carries on if this link goes down. A reply that cannot be
%% written (the link went) is dropped; the edge times the request out.
api_request(Sock, ReqId, Json) ->
    Reply = megaphone_announce:api(Json),
    _ = gen_tcp:send(Sock, megaphone_codec:api_reply(ReqId, Reply)),
    ok.

%% fxml_stream:parse_element/1 returns an element, {error, {Pos, Text}} for
%% XML that is not well-formed, and other errors too ({error, enomem} when
%% expat cannot allocate); a NIF may also raise. Every one of them is this
%% element's problem, never the link's: reduce them all to a text.
-spec parse_element(binary()) -> #xmlel{} | {error, binary()}.
parse_element(Data) ->
    try fxml_stream:parse_element(Data) of
        #xmlel{} = El -> El;
        {error, {_, Why}} when is_binary(Why) -> {error, Why};
        {error, Other} -> {error, iolist_to_binary(io_lib:format("~0p", [Other]))};
        Other -> {error, iolist_to_binary(io_lib:format("unexpected parser result ~0P", [Other, 8]))}
    catch Class:Reason ->
            {error, iolist_to_binary(io_lib:format("parser ~p: ~0P", [Class, Reason, 8]))}
    end.

header(#sess{to = To, lang = Lang}) ->
    Attrs = [{<<"to">>, To}, {<<"xmlns">>, <<"jabber:client">>},
             {<<"xmlns:stream">>, ?NS_STREAM}, {<<"version">>, <<"1.0">>}]
        ++ [{<<"xml:lang">>, Lang} || Lang /= <<>>],
    {xmlstreamstart, <<"stream:stream">>, Attrs}.

%% c2s is only sent input after it asked (setopts active once): a message
%% that reaches it before it was accepted kills it.
%% While the shaper holds the session's input back, it waits in the buffer
%% (bounded by max_session_buffer) as it would in a TCP socket's.
deliver(Item, Bytes, #sess{active = true, held = false, pid = Pid, socket = Socket} = S) ->
    Pid ! {tcp, Socket, [Item]},
    shape(Bytes, S#sess{active = false});
deliver(Item, Bytes, #sess{buf = Buf, buf_bytes = B, held = Held, deferred = D} = S) ->
    S#sess{buf = [Item | Buf], buf_bytes = B + Bytes,
           deferred = case Held of true -> D + 1; false -> D end}.

flush(#sess{buf = []} = S) ->
    S#sess{active = true, accepted = true};
flush(#sess{held = true} = S) ->
    S#sess{active = true, accepted = true};
flush(#sess{buf = Buf, buf_bytes = Bytes, pid = Pid, socket = Socket} = S) ->
    Pid ! {tcp, Socket, lists:reverse(Buf)},
    shape(Bytes, S#sess{buf = [], buf_bytes = 0, active = false, accepted = true}).

%% ejabberd's c2s shaper, applied as xmpp_socket applies it to a TCP socket:
%% the bytes just handed to c2s are charged to the token bucket, and when it
%% is in debt, the session's next input waits for the pause it returns (a TCP
%% session stops reading its socket for that long).
shape(_Bytes, #sess{shaper = none} = S) ->
    S;
shape(Bytes, #sess{shaper = Shaper, socket = #megaphone_socket{id = Id}} = S) ->
    case p1_shaper:update(Shaper, Bytes) of
        {Shaper1, Pause} when Pause > 0 ->
            erlang:send_after(Pause, self(), {megaphone_unhold, Id}),
            S#sess{shaper = Shaper1, held = true};
        {Shaper1, _} ->
            S#sess{shaper = Shaper1}
    end.

%% c2s calls change_shaper at the stream start and once the user is known
%% (ejabberd_c2s:change_shaper/1): `none` lifts any hold at once.
set_shaper(none, S) ->
    unhold(S#sess{shaper = none});
set_shaper(Shaper, S) ->
    S#sess{shaper = Shaper}.

unhold(#sess{held = false} = S) -> S;
unhold(#sess{active = true} = S) -> flush(S#sess{held = false});
unhold(S) -> S#sess{held = false}.

%% Ends a session on our side: CLOSE to the edge (once), forget the id.
%% `keep` uses the condition c2s reported with its stream error, if any.
end_session(Id, Condition, #state{sessions = Sessions, monitors = Mons} = State) ->
    case maps:take(Id, Sessions) of
        {#sess{mon = Mon, condition = Own}, Sessions1} ->
            erlang:demonitor(Mon, [flush]),
            Cond = case Condition of keep -> Own; _ -> Condition end,
            send(State, megaphone_codec:close(Id, Cond, <<>>)),
            State#state{sessions = Sessions1, monitors = maps:remove(Mon, Mons)};
        error ->
            State
    end.

with_session(Id, #state{sessions = Sessions} = State, Fun) ->
    case maps:find(Id, Sessions) of
        {ok, S} -> Fun(S);
        error ->
            send(State, megaphone_codec:error(Id, 'unknown-connection', <<"no such connection">>)),
            {ok, State}
    end.

put_session(Id, S, #state{sessions = Sessions} = State) ->
    State#state{sessions = maps:put(Id, S, Sessions)}.

update_session(Id, Fun, #state{sessions = Sessions} = State) ->
    case maps:find(Id, Sessions) of
        {ok, S} -> State#state{sessions = maps:put(Id, Fun(S), Sessions)};
        error -> State
    end.

%% ejabberd 23.01's c2s keeps the heap it grew during login (~40 KiB) for as
%% long as it idles, and never hibernates. A session whose reductions did not
%% move for a whole sweep is idle: collect it once (asynchronously), and
%% again only after it has worked and gone idle again.
idle_gc_sweep(#state{sessions = Sessions} = State) ->
    Sessions1 = maps:map(
                  fun(Id, #sess{pid = Pid, reds = Last, collected = Done} = S) ->
                          case reductions(Pid) of
                              Last when not Done ->
                                  erlang:garbage_collect(Pid, [{async, {megaphone_gc, Id}}]),
                                  S#sess{collected = true};
                              Last -> S;
                              Now -> S#sess{reds = Now, collected = false}
                          end
                  end, Sessions),
    State#state{sessions = Sessions1}.

%% The link process itself holds a few hundred bytes per session, but its heap
%% grows with the garbage of every frame it relays and, like c2s, is not shrunk
%% while it idles (measured: ~2 KiB a session at 1,000 sessions). Collect it at
%% a sweep when it has grown to twice its size after the last collection, so
%% the cost (a copy of the live heap) stays proportional to real growth.
self_gc(#state{gc_heap = Last} = State) ->
    {total_heap_size, Now} = erlang:process_info(self(), total_heap_size),
    if Now > 2 * Last ->
            erlang:garbage_collect(),
            {total_heap_size, After} = erlang:process_info(self(), total_heap_size),
            State#state{gc_heap = After};
       true ->
            State
    end.

reductions(Pid) ->
    case erlang:process_info(Pid, reductions) of
        {reductions, R} -> R;
        undefined -> 0
    end.

%%====================================================================
%% Internal
%%====================================================================
send(#state{sock = Sock}, Frame) ->
    case gen_tcp:send(Sock, Frame) of
        ok -> ok;
        {error, Reason} ->
            %% A write that timed out (send_timeout) has closed the socket
            %% (send_timeout_close), and the port does not always say so:
            %% end the link here rather than wait for the heartbeat check.
            self() ! {tcp_error, Sock, Reason},
            ok
    end.

activate(Sock) ->
    case inet:setopts(Sock, [{active, once}]) of
        ok -> ok;
        {error, _} -> self() ! {tcp_closed, Sock}, ok
    end.

schedule_heartbeat_check(#state{heartbeat_timeout = T}) ->
    erlang:send_after(max(T div 3, 100), self(), heartbeat_check).

schedule_idle_gc(#state{idle_gc = 0}) -> ok;
schedule_idle_gc(#state{idle_gc = T}) -> erlang:send_after(T, self(), idle_gc).

log_peer_error(Id, <<Code:16, Text/binary>>, State) ->
    ?INFO_MSG("Megaphone link from ~ts: the edge reports error ~B on connection ~B: ~ts",
              [peer(State), Code, Id, Text]);
log_peer_error(Id, _, State) ->
    ?INFO_MSG("Megaphone link from ~ts: malformed ERROR on connection ~B", [peer(State), Id]).

peer(#state{peer = {IP, Port}}) -> [inet:ntoa(IP), $:, integer_to_list(Port)];
peer(_) -> "?".

now_ms() -> erlang:monotonic_time(millisecond).
