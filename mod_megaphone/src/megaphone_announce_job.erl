%%%----------------------------------------------------------------------
%%% File    : megaphone_announce_job.erl
%%% Purpose : One announcement job: sends its message to its recipients in
%%%           batches paced to the job's rate (recipients per second), each
%%%           message routed by ejabberd_router:route/1 so that blocking
%%%           (XEP-0191), carbons, offline storage, MAM and stream management
%%%           treat it as any other message; records its progress in Mnesia
%%%           after every batch.
%%%
%%% A batch is at most a tenth of a second's worth of recipients, then the
%%% process waits for its timer: a large announcement never holds a
%%% scheduler, ejabberd_sm or a c2s process for longer than one batch, and
%%% several jobs interleave.
%%%
%%% After an ejabberd restart the job starts again at the last recorded
%%% batch: the batch in flight when the node died may reach its recipients
%%% twice. Every message's id is megaphone-<job>-<username>, so a client can
%%% drop the second copy.
%%%----------------------------------------------------------------------
-module(megaphone_announce_job).
-behaviour(gen_server).

-export([start_link/1, parse_stanza/1, pace/1, message_id/2]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2,
         code_change/3]).

-include_lib("p1_xmpp/include/xmpp.hrl").
-include("logger.hrl").
-include("megaphone_announce.hrl").

-record(st, {job :: #megaphone_job{},
             left = [] :: [megaphone_recipient()],
             from :: jid:jid(),
             batch :: pos_integer(),
             interval :: pos_integer()}).

-spec start_link(binary()) -> {ok, pid()} | ignore | {error, term()}.
start_link(Id) ->
    gen_server:start_link(?MODULE, Id, []).

init(Id) ->
    case {mnesia:dirty_read(megaphone_job, Id), mnesia:dirty_read(megaphone_job_rcpt, Id)} of
        {[#megaphone_job{state = running, cursor = Cursor, rate = Rate, from = From} = Job],
         [#megaphone_job_rcpt{list = List}]} ->
            {Batch, Interval} = pace(Rate),
            self() ! batch,
            {ok, #st{job = Job, left = drop(Cursor, List), from = jid:decode(From),
                     batch = Batch, interval = Interval}};
        {[#megaphone_job{state = running} = Job], []} ->
            %% Its recipients are gone (a table restored without them): it
            %% cannot go on, say so rather than leave it `running` for ever.
            ?ERROR_MSG("Megaphone announcement ~ts: no recipient list; marked failed", [Id]),
            finish(Job#megaphone_job{state = failed}),
            ignore;
        _ ->
            ignore
    end.

handle_info(batch, #st{job = Job, left = Left, batch = Batch, from = From} = St) ->
    T0 = erlang:monotonic_time(millisecond),
    {Now, Rest} = take(Batch, Left),
    Job1 = lists:foldl(fun(R, J) -> send(R, From, J) end, Job, Now),
    Job2 = Job1#megaphone_job{cursor = Job1#megaphone_job.cursor + length(Now)},
    case Rest of
        [] ->
            finish(Job2#megaphone_job{state = done}),
            {stop, normal, St#st{job = Job2, left = []}};
        _ ->
            %% Recorded, and on disk with what the batch stored offline,
            %% before the next batch: a restart repeats at most this one (if
            %% the node dies between its routing and the sync).
            {atomic, ok} = mnesia:sync_transaction(fun() -> mnesia:write(Job2) end),
            megaphone_announce:sync(),
            %% The interval runs from this batch's start: the time spent
            %% routing it counts, so the job reaches its rate when routing
            %% keeps up (2,000 sessions at 10,000/s: 3,300/s with the whole
            %% interval after each batch), and never exceeds it.
            Took = erlang:monotonic_time(millisecond) - T0,
            erlang:send_after(max(0, St#st.interval - Took), self(), batch),
            {noreply, St#st{job = Job2, left = Rest}}
    end;
handle_info(Info, St) ->
    ?WARNING_MSG("Unexpected info: ~p", [Info]),
    {noreply, St}.

handle_call(Request, From, St) ->
    ?WARNING_MSG("Unexpected call from ~p: ~p", [From, Request]),
    {noreply, St}.

handle_cast(Msg, St) ->
    ?WARNING_MSG("Unexpected cast: ~p", [Msg]),
    {noreply, St}.

terminate(_Reason, _St) -> ok.
code_change(_OldVsn, St, _Extra) -> {ok, St}.

%%====================================================================
%% Pacing
%%====================================================================
%% {recipients per batch, milliseconds between batches}: about ten batches
%% a second, fewer when the rate is below ten a second.
-spec pace(float()) -> {pos_integer(), pos_integer()}.
pace(Rate) ->
    Batch = max(1, round(Rate / 10)),
    {Batch, max(1, round(Batch * 1000 / Rate))}.

take(N, List) ->
    take(N, List, []).

take(0, Rest, Acc) -> {lists:reverse(Acc), Rest};
take(_, [], Acc) -> {lists:reverse(Acc), []};
take(N, [H | T], Acc) -> take(N - 1, T, [H | Acc]).

drop(0, List) -> List;
drop(_, []) -> [];
drop(N, [_ | T]) -> drop(N - 1, T).

finish(Job) ->
    Id = Job#megaphone_job.id,
    {atomic, ok} = mnesia:sync_transaction(
                     fun() ->
                             mnesia:write(Job#megaphone_job{ended = erlang:system_time(millisecond)}),
                             mnesia:delete({megaphone_job_rcpt, Id})
                     end),
    megaphone_announce:sync().

%%====================================================================
%% One recipient (docs/link-protocol.md "Counting")
%%====================================================================
%% A bare JID (users, room): delivered when the user has an available
%% resource (ejabberd_sm routes a message to the bare JID to it, and a
%% headline to each); else, with persist, routed all the same and stored by
%% mod_offline (ejabberd decides, as for any message); else skipped.
send({invalid, _}, _From, J) ->
    J#megaphone_job{skipped = J#megaphone_job.skipped + 1};
send({U, S}, From, #megaphone_job{persist = Persist} = J) ->
    Local = ejabberd_router:is_my_host(S),
    Available = Local andalso
        [P || {P, _} <- ejabberd_sm:get_user_present_resources(U, S), P >= 0] /= [],
    if Available ->
            route(jid:make(U, S), U, From, J, #megaphone_job.delivered);
       Local, Persist ->
            case ejabberd_auth:user_exists(U, S) of
                true -> route(jid:make(U, S), U, From, J, #megaphone_job.offline);
                false -> J#megaphone_job{skipped = J#megaphone_job.skipped + 1}
            end;
       true ->
            J#megaphone_job{skipped = J#megaphone_job.skipped + 1}
    end;
%% One session (online): still there, or skipped (it would go to offline
%% storage otherwise, which the online target never asks for).
send({U, S, R}, From, J) ->
    case ejabberd_sm:get_session_pid(U, S, R) of
        Pid when is_pid(Pid) -> route(jid:make(U, S, R), U, From, J, #megaphone_job.delivered);
        _ -> J#megaphone_job{skipped = J#megaphone_job.skipped + 1}
    end.

route(To, User, From, J, Counter) ->
    try
        ejabberd_router:route(message(J, From, To, User)),
        setelement(Counter, J, element(Counter, J) + 1)
    catch Class:Reason ->
            ?WARNING_MSG("Megaphone announcement ~ts to ~ts failed: ~p:~p",
                         [J#megaphone_job.id, jid:encode(To), Class, Reason]),
            J#megaphone_job{failed = J#megaphone_job.failed + 1}
    end.

-spec message_id(binary(), binary()) -> binary().
message_id(JobId, User) ->
    <<"megaphone-", JobId/binary, "-", User/binary>>.

%% A `body` becomes a headline (RFC 6121 §5.2.2: a message that expects no
%% reply). mod_offline stores no headline unless it carries the XEP-0334
%% <store/> hint (ejabberd 23.01 mod_offline:need_to_store/2; mod_mam's
%% should_archive/2 honours the same hint), so the hint is added when the
%% job persists: offline users find the announcement, and it is archived.
message(#megaphone_job{id = Id, message = {body, Body}, persist = Persist}, From, To, User) ->
    #message{id = message_id(Id, User), type = headline, from = From, to = To,
             body = [#text{data = Body}],
             sub_els = [#hint{type = store} || Persist]};
%% A stanza from the edge: `to` and `id` set per recipient, `from` the job's
%% unless the stanza names one; with template, every "%s" is the username
%% (nodeprep forbids the characters XML would need escaped).
message(#megaphone_job{id = Id, message = {stanza, Raw, Template}}, From, To, User) ->
    Bin = case Template of
              true -> binary:replace(Raw, <<"%s">>, User, [global]);
              false -> Raw
          end,
    {ok, #xmlel{attrs = Attrs} = El} = parse_stanza(Bin),
    Attrs1 = lists:keystore(<<"to">>, 1,
                            lists:keystore(<<"id">>, 1, Attrs, {<<"id">>, message_id(Id, User)}),
                            {<<"to">>, jid:encode(To)}),
    Attrs2 = case lists:keymember(<<"from">>, 1, Attrs1) of
                 true -> Attrs1;
                 false -> [{<<"from">>, jid:encode(From)} | Attrs1]
             end,
    xmpp:decode(El#xmlel{attrs = Attrs2}, ?NS_CLIENT, [ignore_els]).

%% A complete <message/> in the jabber:client namespace that ejabberd's
%% codec accepts (its `from`, if any, a valid JID), else why not.
-spec parse_stanza(binary()) -> {ok, #xmlel{}} | {error, binary()}.
parse_stanza(Bin) ->
    case megaphone_link:parse_element(Bin) of
        #xmlel{name = <<"message">>, attrs = Attrs} = El ->
            case lists:keyfind(<<"xmlns">>, 1, Attrs) of
                Ns when Ns == false; Ns == {<<"xmlns">>, ?NS_CLIENT} ->
                    El1 = El#xmlel{attrs = lists:keystore(<<"xmlns">>, 1, Attrs,
                                                          {<<"xmlns">>, ?NS_CLIENT})},
                    try xmpp:decode(El1, ?NS_CLIENT, [ignore_els]) of
                        #message{} -> {ok, El1}
                    catch _:{xmpp_codec, Why} ->
                            {error, iolist_to_binary(xmpp:format_error(Why))}
                    end;
                _ ->
                    {error, <<"the <message/> must be in the jabber:client namespace">>}
            end;
        #xmlel{name = Name} ->
            {error, <<"a <message/> expected, not <", Name/binary, "/>">>};
        {error, Why} ->
            {error, <<"not well-formed: ", Why/binary>>}
    end.
