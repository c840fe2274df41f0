%%%----------------------------------------------------------------------
%%% File    : megaphone_session.erl
%%% Purpose : The xmpp_socket behaviour for one connection id on a link, so
%%%           that a real ejabberd_c2s session runs over it.
%%%
%%% There is no process per session besides c2s itself. Every callback below
%%% runs in the c2s process: output is encoded and written straight onto the
%%% link's socket (a port accepts writes from any process, and each write is
%%% one whole frame, so frames never interleave); input and lifecycle go
%%% through the link process (megaphone_link), which owns the socket, is the
%%% "owner" c2s monitors (so losing the link ends every session), and holds
%%% each session's input until c2s asks for it with setopts([{active, once}]).
%%%----------------------------------------------------------------------
-module(megaphone_session).
-behaviour(xmpp_socket).

-export([start/2, send_xml/2, get_owner/1, get_transport/1, change_shaper/2,
         controlling_process/2, close/1, sockname/1, peername/1, setopts/2,
         reset_stream/1]).

-include_lib("p1_xmpp/include/xmpp.hrl").
-include("megaphone.hrl").

-define(NS_FRAMING_CLIENT, <<"jabber:client">>).

%%====================================================================
%% Start
%%====================================================================
%% Starts the c2s process for a socket and accepts it. c2s takes its limits
%% (access, shaper, max_stanza_size) from the first ejabberd_c2s listener.
-spec start(#megaphone_socket{}, [proplists:property()]) -> {ok, pid()} | {error, term()}.
start(Socket, ExtraOpts) ->
    Opts = ejabberd_c2s_config:get_c2s_limits() ++ ExtraOpts,
    case ejabberd_c2s:start(?MODULE, Socket, Opts) of
        {ok, Pid} ->
            ejabberd_c2s:accept(Pid),
            {ok, Pid};
        {error, _} = Err -> Err;
        ignore -> {error, ignore}
    end.

%%====================================================================
%% xmpp_socket callbacks (called in the c2s process)
%%====================================================================
-spec send_xml(#megaphone_socket{}, term()) -> ok | {error, closed | inet:posix()}.
send_xml(#megaphone_socket{id = Id} = S, {xmlstreamstart, _Name, Attrs}) ->
    %% docs/link-protocol.md STREAM_START: the stream id changes at every
    %% header; XEP-0206's authid is the first one.
    Get = fun(K) -> proplists:get_value(K, Attrs, <<>>) end,
    write(S, megaphone_codec:stream_start(Id, Get(<<"id">>), Get(<<"from">>),
                                          Get(<<"version">>), Get(<<"xml:lang">>)));
send_xml(#megaphone_socket{id = Id} = S, {xmlstreamelement, #xmlel{} = El}) ->
    El1 = standalone(El),
    case El1 of
        #xmlel{name = <<"stream:error">>} ->
            %% The condition travels in the CLOSE that follows the stream end.
            S#megaphone_socket.link ! {megaphone_stream_error, Id, stream_error_condition(El1)};
        _ -> ok
    end,
    write(S, megaphone_codec:data(Id, fxml:element_to_binary(El1)));
send_xml(#megaphone_socket{link = Link, id = Id}, {xmlstreamend, _}) ->
    Link ! {megaphone_stream_end, Id},
    ok;
send_xml(_S, _Other) ->
    %% xmlstreamraw (whitespace keepalives) and cdata have no meaning on the
    %% link: the edge keeps BOSH and WebSocket connections alive itself.
    ok.

-spec get_owner(#megaphone_socket{}) -> pid().
get_owner(#megaphone_socket{link = Link}) -> Link.

%% ejabberd_c2s:get_conn_type/1 has no catch-all clause: only these two.
-spec get_transport(#megaphone_socket{}) -> http_bind | websocket.
get_transport(#megaphone_socket{transport = T}) -> T.

%% ejabberd's c2s shaper (the first c2s listener's `shaper`, e.g. the
%% `c2s_shaper` rule), matched by c2s for this user and address. A TCP socket
%% stops reading for the pause the shaper returns; the link cannot stop
%% reading for one session, so the link process keeps the shaper and holds
%% this session's input back instead (megaphone_link:shape/2). xmpp_socket
%% drops what this returns, so the state lives in the link, not in the term.
-spec change_shaper(#megaphone_socket{}, none | p1_shaper:state()) -> ok.
change_shaper(#megaphone_socket{link = Link, id = Id}, Shaper) ->
    Link ! {megaphone_shaper, Id, self(), Shaper},
    ok.

-spec controlling_process(#megaphone_socket{}, pid()) -> ok.
controlling_process(_Socket, _Pid) -> ok.

%% May be called twice, and after the link is gone: both harmless.
-spec close(#megaphone_socket{}) -> ok.
close(#megaphone_socket{link = Link, id = Id}) ->
    Link ! {megaphone_closed, Id, self()},
    ok.

-spec sockname(#megaphone_socket{}) -> {ok, {inet:ip_address(), inet:port_number()}}.
sockname(#megaphone_socket{sock = Sock}) ->
    case inet:sockname(Sock) of
        {ok, _} = Ok -> Ok;
        {error, _} -> {ok, {{0, 0, 0, 0}, 0}}
    end.

%% The browser's address as the edge saw it (OPEN's client ip).
-spec peername(#megaphone_socket{}) -> {ok, {inet:ip_address(), inet:port_number()}}.
peername(#megaphone_socket{peer = Peer}) -> {ok, Peer}.

-spec setopts(#megaphone_socket{}, list()) -> ok.
setopts(#megaphone_socket{link = Link, id = Id}, Opts) ->
    case lists:member({active, once}, Opts) of
        true -> Link ! {megaphone_active, Id, self()}, ok;
        false -> ok
    end.

%% Called after SASL success; the new header comes with the edge's RESTART.
-spec reset_stream(#megaphone_socket{}) -> #megaphone_socket{}.
reset_stream(Socket) -> Socket.

%%====================================================================
%% Internal
%%====================================================================
write(#megaphone_socket{sock = Sock, link = Link}, Frame) ->
    case gen_tcp:send(Sock, Frame) of
        ok -> ok;
        {error, Reason} = Err ->
            %% The link's socket is gone or stalled past send_timeout (which
            %% closes it): the whole link goes, and every session with it.
            Link ! {tcp_error, Sock, Reason},
            Err
    end.

%% Elements inherit their namespace from the stream header; on the link each
%% DATA frame stands alone, so give it the namespaces it inherited.
standalone(#xmlel{name = <<"stream:", _/binary>>} = El) ->
    fxml:replace_tag_attr(<<"xmlns:stream">>, ?NS_STREAM, El);
standalone(El) ->
    case fxml:get_tag_attr_s(<<"xmlns">>, El) of
        <<>> -> fxml:replace_tag_attr(<<"xmlns">>, ?NS_FRAMING_CLIENT, El);
        _ -> El
    end.

%% RFC 6120 §4.9.3: the condition is the child in the streams namespace
%% that is not <text/>.
stream_error_condition(#xmlel{children = Children}) ->
    Names = [N || #xmlel{name = N, attrs = A} <- Children,
                  N /= <<"text">>,
                  proplists:get_value(<<"xmlns">>, A) == ?NS_STREAMS],
    case Names of
        [Name | _] -> Name;
        [] -> <<"undefined-condition">>
    end.
