%%%----------------------------------------------------------------------
%%% File    : megaphone_codec.erl
%%% Purpose : The Megaphone link protocol v1 (docs/link-protocol.md): frame
%%%           encoders and an incremental decoder. No I/O, no processes.
%%%----------------------------------------------------------------------
-module(megaphone_codec).

%% API
-export([new_decoder/1, set_max/2, decode/2]).
-export([frame/3, hello/2, auth_ok/1, pong/1, stats_reply/3, api_reply/2,
         stream_start/5, data/2, close/3, error/3]).
-export([parse_auth/1, parse_open/1, parse_close/1, parse_ping/1,
         parse_stats_request/1, parse_api_request/1]).
-export([type_name/1, error_code/1]).

%% Frame types (docs/link-protocol.md, "Frame types").
-define(HELLO, 16#01).
-define(AUTH, 16#02).
-define(AUTH_OK, 16#03).
-define(PING, 16#04).
-define(PONG, 16#05).
-define(STATS_REQUEST, 16#06).
-define(STATS_REPLY, 16#07).
-define(API_REQUEST, 16#08).
-define(API_REPLY, 16#09).
-define(OPEN, 16#10).
-define(STREAM_START, 16#11).
-define(DATA, 16#12).
-define(RESTART, 16#13).
-define(CLOSE, 16#14).
-define(ERROR, 16#20).

%% `length` counts the connection id (8 bytes) and the type (1 byte) too.
-define(MIN_LENGTH, 9).

-record(dec, {buf = <<>> :: binary(),
              %% bytes of an oversized or undersized frame still to discard
              skip = 0 :: non_neg_integer(),
              max :: pos_integer()}).
-opaque decoder() :: #dec{}.
-type event() :: {frame, non_neg_integer(), byte(), binary()}
               | {too_large, non_neg_integer(), non_neg_integer()}
               | {too_short, non_neg_integer()}.
-export_type([decoder/0, event/0]).

%%====================================================================
%% Decoder
%%====================================================================
-spec new_decoder(pos_integer()) -> decoder().
new_decoder(Max) -> #dec{max = Max}.

%% The limit changes once, when the handshake succeeds (1,024 bytes before).
-spec set_max(decoder(), pos_integer()) -> decoder().
set_max(Dec, Max) -> Dec#dec{max = Max}.

%% Feeds one chunk from the socket; returns the events it completes, in
%% order, and the decoder holding what is left of a partial frame. An
%% oversized frame is never buffered: its connection id is reported and
%% the rest of it is discarded as it arrives, so the link stays usable.
-spec decode(binary(), decoder()) -> {[event()], decoder()}.
decode(Chunk, #dec{buf = Buf} = Dec) ->
    loop(<<Buf/binary, Chunk/binary>>, Dec, []).

loop(Bin, #dec{skip = Skip} = Dec, Acc) when Skip > 0 ->
    case byte_size(Bin) of
        Size when Size >= Skip ->
            <<_:Skip/binary, Rest/binary>> = Bin,
            loop(Rest, Dec#dec{skip = 0}, Acc);
        Size ->
            {lists:reverse(Acc), Dec#dec{buf = <<>>, skip = Skip - Size}}
    end;
loop(<<Len:32, Rest/binary>>, Dec, Acc) when Len < ?MIN_LENGTH ->
    loop(Rest, Dec#dec{skip = Len}, [{too_short, Len} | Acc]);
loop(<<Len:32, Id:64, Rest/binary>>, #dec{max = Max} = Dec, Acc) when Len > Max ->
    loop(Rest, Dec#dec{skip = Len - 8}, [{too_large, Id, Len} | Acc]);
loop(<<Len:32, Id:64, Type:8, Rest/binary>> = Bin, #dec{max = Max} = Dec, Acc)
  when Len =< Max ->
    DataLen = Len - ?MIN_LENGTH,
    case Rest of
        <<Data:DataLen/binary, Tail/binary>> ->
            %% binary:copy so that a small frame does not keep the whole
            %% chunk it arrived in alive (it may be stored in a session).
            loop(Tail, Dec, [{frame, Id, Type, binary:copy(Data)} | Acc]);
        _ ->
            {lists:reverse(Acc), Dec#dec{buf = Bin}}
    end;
loop(Bin, Dec, Acc) ->
    {lists:reverse(Acc), Dec#dec{buf = Bin}}.

%%====================================================================
%% Encoders (iodata: the payload is never copied into a new binary)
%%====================================================================
-spec frame(non_neg_integer(), byte(), iodata()) -> iodata().
frame(Id, Type, Data) ->
    [<<(iolist_size(Data) + ?MIN_LENGTH):32, Id:64, Type:8>>, Data].

-spec hello({pos_integer(), pos_integer()}, binary()) -> iodata().
hello({Min, Max}, Nonce) -> frame(0, ?HELLO, <<Min:16, Max:16, Nonce/binary>>).

-spec auth_ok(binary()) -> iodata().
auth_ok(Mac) -> frame(0, ?AUTH_OK, Mac).

-spec pong(binary()) -> iodata().
pong(Opaque) -> frame(0, ?PONG, Opaque).

-spec stats_reply(non_neg_integer(), non_neg_integer(), non_neg_integer()) -> iodata().
stats_reply(ReqId, OnLink, OnNode) ->
    frame(0, ?STATS_REPLY, <<ReqId:32, (min(OnLink, 16#ffffffff)):32,
                              (min(OnNode, 16#ffffffff)):32>>).

%% API_REPLY: u32 request id, then a UTF-8 JSON object to the end.
-spec api_reply(non_neg_integer(), iodata()) -> iodata().
api_reply(ReqId, Json) -> frame(0, ?API_REPLY, [<<ReqId:32>>, Json]).

-spec stream_start(non_neg_integer(), binary(), binary(), binary(), binary()) -> iodata().
stream_start(Id, StreamId, From, Version, Lang) ->
    frame(Id, ?STREAM_START, [str16(StreamId), str16(From), str16(Version), str16(Lang)]).

-spec data(non_neg_integer(), iodata()) -> iodata().
data(Id, Xml) -> frame(Id, ?DATA, Xml).

-spec close(non_neg_integer(), binary(), binary()) -> iodata().
close(Id, Condition, Text) -> frame(Id, ?CLOSE, [str16(Condition), Text]).

-spec error(non_neg_integer(), atom(), iodata()) -> iodata().
error(Id, Name, Text) -> frame(Id, ?ERROR, [<<(error_code(Name)):16>>, Text]).

str16(S) ->
    B = iolist_to_binary(S),
    %% A str16 holds at most 65,535 bytes; values come from ejabberd (stream
    %% ids, domains), far below that, but never emit a corrupt frame.
    T = binary:part(B, 0, min(byte_size(B), 16#ffff)),
    [<<(byte_size(T)):16>>, T].

%%====================================================================
%% Parsers for the frames the edge sends
%%====================================================================
-spec parse_auth(binary()) -> {ok, non_neg_integer(), binary(), binary()} | error.
parse_auth(<<Version:16, Ne:32/binary, Mac:32/binary, _/binary>>) -> {ok, Version, Ne, Mac};
parse_auth(_) -> error.

-spec parse_ping(binary()) -> {ok, binary()} | error.
parse_ping(<<Opaque:8/binary, _/binary>>) -> {ok, Opaque};
parse_ping(_) -> error.

-spec parse_stats_request(binary()) -> {ok, non_neg_integer()} | error.
parse_stats_request(<<ReqId:32, _/binary>>) -> {ok, ReqId};
parse_stats_request(_) -> error.

%% API_REQUEST: u32 request id, then a UTF-8 JSON object to the end
%% (the JSON is checked by megaphone_announce, which answers bad-request).
-spec parse_api_request(binary()) -> {ok, non_neg_integer(), binary()} | error.
parse_api_request(<<ReqId:32, Json/binary>>) -> {ok, ReqId, Json};
parse_api_request(_) -> error.

%% OPEN: u8 transport, str16 to, str16 client ip, u16 client port, str16 xml:lang
-spec parse_open(binary()) -> {ok, bosh | websocket, binary(), inet:ip_address(),
                               inet:port_number(), binary()} | {error, binary()}.
parse_open(<<T:8, ToLen:16, To:ToLen/binary, IpLen:16, Ip:IpLen/binary, Port:16,
             LangLen:16, Lang:LangLen/binary, _/binary>>) ->
    case {transport(T), inet:parse_strict_address(binary_to_list(Ip))} of
        {error, _} -> {error, <<"OPEN: unknown transport">>};
        {_, {error, _}} -> {error, <<"OPEN: bad client ip">>};
        {Transport, {ok, Addr}} ->
            case valid_utf8([To, Lang]) of
                true -> {ok, Transport, To, Addr, Port, Lang};
                false -> {error, <<"OPEN: bad UTF-8">>}
            end
    end;
parse_open(_) ->
    {error, <<"OPEN: fields shorter than their lengths">>}.

-spec parse_close(binary()) -> {ok, binary()} | error.
parse_close(<<Len:16, Cond:Len/binary, _/binary>>) -> {ok, Cond};
parse_close(<<>>) -> {ok, <<>>};
parse_close(_) -> error.

transport(0) -> bosh;
transport(1) -> websocket;
transport(_) -> error.

valid_utf8(Bins) ->
    lists:all(fun(B) -> unicode:characters_to_binary(B) == B end, Bins).

%%====================================================================
%% Names
%%====================================================================
-spec type_name(byte()) -> atom().
type_name(?HELLO) -> hello;
type_name(?AUTH) -> auth;
type_name(?AUTH_OK) -> auth_ok;
type_name(?PING) -> ping;
type_name(?PONG) -> pong;
type_name(?STATS_REQUEST) -> stats_request;
type_name(?STATS_REPLY) -> stats_reply;
type_name(?API_REQUEST) -> api_request;
type_name(?API_REPLY) -> api_reply;
type_name(?OPEN) -> open;
type_name(?STREAM_START) -> stream_start;
type_name(?DATA) -> data;
type_name(?RESTART) -> restart;
type_name(?CLOSE) -> close;
type_name(?ERROR) -> error;
type_name(_) -> unknown.

%% docs/link-protocol.md, "Errors".
-spec error_code(atom()) -> pos_integer().
error_code('auth-failed') -> 1;
error_code('unsupported-version') -> 2;
error_code('not-authenticated') -> 3;
error_code('frame-too-large') -> 4;
error_code('frame-too-short') -> 5;
error_code('unknown-type') -> 6;
error_code('bad-frame') -> 7;
error_code('unknown-connection') -> 8;
error_code('duplicate-connection') -> 9;
error_code('bad-xml') -> 10;
error_code('wrong-direction') -> 11;
error_code('session-limit') -> 12;
error_code(internal) -> 13.
