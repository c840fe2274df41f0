%%%----------------------------------------------------------------------
%%% File    : megaphone_announce.erl
%%% Purpose : The announcer inside ejabberd (docs/announcer.md, the JSON ops
%%%           of API_REQUEST in docs/link-protocol.md): it answers the edge's
%%%           requests, finds a job's recipients through ejabberd's own
%%%           session manager and mod_muc, admits jobs up to
%%%           max_announce_jobs, keeps them in Mnesia, and resumes unfinished
%%%           ones when the node starts again. Each job is then run, paced,
%%%           by its own megaphone_announce_job process.
%%%
%%% api/1 runs in the caller's process (one per API_REQUEST, spawned by the
%%% link): listing recipients and reading status never block this server,
%%% which only admits jobs (a counter, two Mnesia writes, a process start).
%%%----------------------------------------------------------------------
-module(megaphone_announce).
-behaviour(gen_server).

%% from mod_megaphone (gen_mod)
-export([start/2, stop/1]).
%% from megaphone_link
-export([api/1]).
%% for megaphone_announce_job and the tests
-export([start_link/0, recipients/2, iso8601/1, sync/0]).
-export([init/1, handle_continue/2, handle_call/3, handle_cast/2, handle_info/2,
         terminate/2, code_change/3]).

-include_lib("p1_xmpp/include/xmpp.hrl").
-include("logger.hrl").
-include("megaphone_announce.hrl").

-define(SUP, megaphone_announce_sup).
-define(JOBS, megaphone_announce_jobs).
-define(DEFAULT_RATE, 1000).
%% A sanity bound, not a tuning knob: the edge's own option is the limit.
-define(MAX_RATE, 1000000).
-define(DEFAULT_MAX_JOBS, 8).
-define(DEFAULT_RETENTION, timer:hours(24 * 7)).
-define(PRUNE_INTERVAL, timer:hours(1)).
-define(CALL_TIMEOUT, 30000).

-record(state, {running = #{} :: #{reference() => binary()}}).

%%====================================================================
%% Started and stopped with mod_megaphone (once per node)
%%====================================================================
-spec start(binary(), gen_mod:opts()) -> ok | {error, term()}.
start(_Host, _Opts) ->
    Spec = #{id => ?SUP, start => {?SUP, start_link, []},
             restart => permanent, shutdown => infinity, type => supervisor},
    case supervisor:start_child(ejabberd_gen_mod_sup, Spec) of
        {ok, _} -> ok;
        {error, {already_started, _}} -> ok;
        {error, already_present} ->
            case supervisor:restart_child(ejabberd_gen_mod_sup, ?SUP) of
                {ok, _} -> ok;
                {error, running} -> ok;
                {error, _} = Err -> Err
            end;
        {error, _} = Err -> Err
    end.

%% Running jobs stop with it and stay `running` in Mnesia: the next start
%% resumes them.
-spec stop(binary()) -> ok.
stop(Host) ->
    case gen_mod:is_loaded_elsewhere(Host, mod_megaphone) of
        true -> ok;
        false ->
            _ = supervisor:terminate_child(ejabberd_gen_mod_sup, ?SUP),
            _ = supervisor:delete_child(ejabberd_gen_mod_sup, ?SUP),
            ok
    end.

-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%%====================================================================
%% The JSON ops (docs/link-protocol.md, "API_REQUEST")
%%====================================================================
%% Never raises: every failure is a JSON error reply.
-spec api(binary()) -> iodata().
api(Json) ->
    Reply = case decode(Json) of
                {ok, Req} ->
                    try request(Req)
                    catch throw:{reply, R} -> R;
                          Class:Reason:St ->
                            ?ERROR_MSG("Megaphone announce request failed: ~p:~p~n~p",
                                       [Class, Reason, St]),
                            error_reply(internal, <<"the request failed; see ejabberd's log">>)
                    end;
                error ->
                    error_reply('bad-request', <<"the request is not a JSON object">>)
            end,
    jiffy:encode(Reply).

decode(Json) ->
    try jiffy:decode(Json, [return_maps]) of
        #{} = Req -> {ok, Req};
        _ -> error
    catch _:_ -> error
    end.

request(Req) ->
    case whereis(?MODULE) of
        undefined -> error_reply(internal, <<"announcements need mod_megaphone under 'modules:'">>);
        _ -> op(Req)
    end.

op(#{<<"op">> := <<"announce">>} = Req) -> announce(Req);
op(#{<<"op">> := <<"status">>, <<"job">> := Id}) when is_binary(Id) -> status(Id);
op(#{<<"op">> := <<"stats">>}) -> stats();
op(#{<<"op">> := Op}) when is_binary(Op) ->
    error_reply('bad-request', <<"unknown op '", Op/binary, "'">>);
op(_) ->
    error_reply('bad-request', <<"'op' missing or malformed">>).

error_reply(Code, Text) ->
    #{ok => false, error => atom_to_binary(Code), text => Text}.

bad(Code, Text) -> throw({reply, error_reply(Code, Text)}).

%%--------------------------------------------------------------------
%% announce
%%--------------------------------------------------------------------
announce(Req) ->
    Job = parse_job(Req),
    Recipients = recipients(Job#megaphone_job.target, Req#{<<"host">> => Job#megaphone_job.host}),
    gen_server:call(?MODULE, {start, Job, Recipients}, ?CALL_TIMEOUT).

parse_job(Req) ->
    Target = case maps:get(<<"target">>, Req, undefined) of
                 T when T == <<"users">>; T == <<"room">>; T == <<"online">> -> T;
                 _ -> bad('bad-request', <<"'target' must be users, room or online">>)
             end,
    FromBin = case maps:get(<<"from">>, Req, undefined) of
                  undefined -> hd(ejabberd_option:hosts());
                  F when is_binary(F) -> F;
                  _ -> bad('bad-request', <<"'from' must be a JID">>)
              end,
    From = try jid:decode(FromBin)
           catch _:_ -> bad('bad-request', <<"'from' is not a valid JID">>)
           end,
    Rate = case maps:get(<<"rate">>, Req, ?DEFAULT_RATE) of
               R when is_number(R), R > 0 -> float(min(R, ?MAX_RATE));
               _ -> bad('bad-request', <<"'rate' must be a number above 0">>)
           end,
    Persist = case {Target, maps:get(<<"persist">>, Req, true)} of
                  {<<"users">>, P} when is_boolean(P) -> P;
                  {<<"users">>, _} -> bad('bad-request', <<"'persist' must be true or false">>);
                  %% a room's members and every online session: online only
                  _ -> false
              end,
    Message = parse_message(maps:get(<<"message">>, Req, undefined)),
    #megaphone_job{target = Target, host = host_of(From#jid.lserver),
                   from = jid:encode(From), persist = Persist, message = Message,
                   rate = Rate}.

parse_message(#{<<"body">> := Body} = M) when is_binary(Body), Body /= <<>>,
                                              not is_map_key(<<"stanza">>, M) ->
    {body, Body};
parse_message(#{<<"stanza">> := Raw} = M) when is_binary(Raw), not is_map_key(<<"body">>, M) ->
    Template = case maps:get(<<"template">>, M, false) of
                   B when is_boolean(B) -> B;
                   _ -> bad('bad-request', <<"'template' must be true or false">>)
               end,
    %% A template is checked with a sample username in place of "%s".
    Sample = case Template of
                 true -> binary:replace(Raw, <<"%s">>, <<"user">>, [global]);
                 false -> Raw
             end,
    case megaphone_announce_job:parse_stanza(Sample) of
        {ok, _} -> {stanza, Raw, Template};
        {error, Why} -> bad('bad-stanza', Why)
    end;
parse_message(_) ->
    bad('bad-request', <<"'message' must hold a non-empty 'body' or a 'stanza'">>).

%% The local domain a job works in: the `from` JID's own when it is a host
%% of this server, the host it is a subdomain of (a service JID such as
%% announce.example.org), else the first configured host.
host_of(Server) ->
    Hosts = ejabberd_option:hosts(),
    case lists:member(Server, Hosts) of
        true -> Server;
        false ->
            case [H || H <- Hosts, is_subdomain(Server, H)] of
                [H | _] -> H;
                [] -> hd(Hosts)
            end
    end.

is_subdomain(Sub, Host) ->
    N = byte_size(Host) + 1,
    byte_size(Sub) > N andalso binary:part(Sub, byte_size(Sub) - N, N) == <<$., Host/binary>>.

%%--------------------------------------------------------------------
%% Recipients (at the job's start; who is online is checked per message)
%%--------------------------------------------------------------------
-spec recipients(binary(), map()) -> [megaphone_recipient()].
recipients(<<"users">>, #{<<"usernames">> := Names, <<"host">> := Host})
  when is_list(Names), Names /= [] ->
    case lists:all(fun is_binary/1, Names) of
        true -> dedupe([user_recipient(N, Host) || N <- Names]);
        false -> bad('bad-request', <<"'usernames' must be strings">>)
    end;
recipients(<<"users">>, _) ->
    bad('bad-request', <<"'usernames' must be a non-empty list">>);
recipients(<<"room">>, #{<<"room">> := Room}) when is_binary(Room) ->
    {Name, Service} = case catch jid:decode(Room) of
                          #jid{luser = N, lserver = S, lresource = <<>>} when N /= <<>> -> {N, S};
                          _ -> bad('unknown-room', <<"'room' is not a room JID: ", Room/binary>>)
                      end,
    %% mod_muc_admin's helpers find the room (waking a hibernated one) and
    %% read its state; any failure means there is no such room here.
    Affiliations = try mod_muc_admin:get_room_affiliations(Name, Service)
                   catch _:_ -> bad('unknown-room', <<"no room ", Room/binary>>)
                   end,
    Occupants = try mod_muc_admin:get_room_occupants(Name, Service)
                catch _:_ -> []
                end,
    %% Members are the affiliations member, admin and owner (XEP-0045 §5.2);
    %% an affiliation can name a whole server (no user part): not a person.
    Members = [{U, S} || {U, S, Aff, _} <- Affiliations, U /= <<>>,
                         lists:member(Aff, [member, admin, owner])],
    Present = [{U, S} || {JidBin, _Nick, _Role} <- Occupants,
                         #jid{luser = U, lserver = S} <- [catch jid:decode(JidBin)],
                         U /= <<>>],
    dedupe(Members ++ Present);
recipients(<<"room">>, _) ->
    bad('bad-request', <<"'room' must be a room JID">>);
recipients(<<"online">>, #{<<"host">> := Host}) ->
    %% Cluster-wide: the session table is replicated on every node.
    [{U, S, R} || {U, S, R} <- ejabberd_sm:get_vh_session_list(Host)].

user_recipient(Name, Host) ->
    case binary:match(Name, <<"@">>) of
        nomatch ->
            case jid:nodeprep(Name) of
                U when is_binary(U), U /= <<>> -> {U, Host};
                _ -> {invalid, Name}
            end;
        _ ->
            %% A full JID names its user: announcements go to the account.
            case catch jid:decode(Name) of
                #jid{luser = U, lserver = S} when U /= <<>> -> {U, S};
                _ -> {invalid, Name}
            end
    end.

%% In the order given, each recipient once.
dedupe(List) ->
    {Out, _} = lists:foldl(fun(R, {Acc, Seen}) ->
                                   case maps:is_key(R, Seen) of
                                       true -> {Acc, Seen};
                                       false -> {[R | Acc], Seen#{R => true}}
                                   end
                           end, {[], #{}}, List),
    lists:reverse(Out).

%%--------------------------------------------------------------------
%% status and stats
%%--------------------------------------------------------------------
status(Id) ->
    case mnesia:dirty_read(megaphone_job, Id) of
        [Job] -> job_info(Job);
        [] -> error_reply('unknown-job', <<"no job ", Id/binary>>)
    end.

job_info(#megaphone_job{} = J) ->
    End = case J#megaphone_job.ended of
              undefined -> erlang:system_time(millisecond);
              E -> E
          end,
    Cursor = J#megaphone_job.cursor,
    %% The first batch goes at once: measured from the start alone, a job a
    %% moment old would show an absurd rate. Each batch takes at least its
    %% share of a second at the job's rate, so count that much time at least.
    Secs = max((End - J#megaphone_job.started) / 1000, Cursor / J#megaphone_job.rate),
    Rate = case Cursor of
               0 -> 0.0;
               _ -> round(Cursor / Secs * 100) / 100
           end,
    #{ok => true, job => J#megaphone_job.id,
      state => atom_to_binary(J#megaphone_job.state),
      target => J#megaphone_job.target,
      recipients => J#megaphone_job.recipients,
      delivered => J#megaphone_job.delivered,
      offline => J#megaphone_job.offline,
      skipped => J#megaphone_job.skipped,
      failed => J#megaphone_job.failed,
      rate => Rate,
      started => iso8601(J#megaphone_job.started),
      ended => case J#megaphone_job.ended of
                   undefined -> null;
                   T -> iso8601(T)
               end}.

%% Totals over the jobs Mnesia holds (it keeps them across restarts, for
%% announce_retention after they end), not since the node started.
stats() ->
    Jobs = mnesia:dirty_match_object(#megaphone_job{_ = '_'}),
    Sum = fun(F) -> lists:sum([F(J) || J <- Jobs]) end,
    #{ok => true,
      jobs_running => length([J || #megaphone_job{state = running} = J <- Jobs]),
      jobs_done => length([J || #megaphone_job{state = done} = J <- Jobs]),
      jobs_failed => length([J || #megaphone_job{state = failed} = J <- Jobs]),
      recipients => Sum(fun(J) -> J#megaphone_job.recipients end),
      delivered => Sum(fun(J) -> J#megaphone_job.delivered end),
      offline => Sum(fun(J) -> J#megaphone_job.offline end),
      skipped => Sum(fun(J) -> J#megaphone_job.skipped end),
      failed => Sum(fun(J) -> J#megaphone_job.failed end)}.

-spec iso8601(integer()) -> binary().
iso8601(Ms) ->
    list_to_binary(calendar:system_time_to_rfc3339(Ms, [{unit, millisecond}, {offset, "Z"}])).

%%====================================================================
%% gen_server: admission, resume, pruning
%%====================================================================
init([]) ->
    process_flag(trap_exit, true),
    %% Every write is followed by sync/0 (see there): without it a node
    %% killed a second or two into a job lost the job (tried).
    ejabberd_mnesia:create(?MODULE, megaphone_job,
                           [{disc_copies, [node()]},
                            {attributes, record_info(fields, megaphone_job)}]),
    ejabberd_mnesia:create(?MODULE, megaphone_job_rcpt,
                           [{disc_copies, [node()]},
                            {attributes, record_info(fields, megaphone_job_rcpt)}]),
    ok = mnesia:wait_for_tables([megaphone_job, megaphone_job_rcpt], timer:minutes(1)),
    sync(),
    {ok, #state{}, {continue, resume}}.

handle_continue(resume, State) ->
    %% Jobs this node was running when it stopped (or died): each goes on
    %% from its last recorded batch.
    Unfinished = mnesia:dirty_match_object(#megaphone_job{state = running, node = node(),
                                                          _ = '_'}),
    State1 = lists:foldl(
               fun(#megaphone_job{id = Id, cursor = C, recipients = N}, S) ->
                       ?INFO_MSG("Megaphone announcement ~ts: resuming at ~B of ~B",
                                 [Id, C, N]),
                       case run(Id, S) of
                           {ok, S1} -> S1;
                           {error, _} -> S
                       end
               end, State, Unfinished),
    prune(),
    erlang:send_after(?PRUNE_INTERVAL, self(), prune),
    {noreply, State1}.

handle_call({start, Job0, Recipients}, _From, #state{running = Running} = State) ->
    Max = module_opt(Job0#megaphone_job.host, max_announce_jobs, ?DEFAULT_MAX_JOBS),
    case map_size(Running) >= Max of
        true ->
            {reply, error_reply('too-many-jobs',
                                iolist_to_binary(io_lib:format("~B announcements are running "
                                                               "(max_announce_jobs)", [Max]))),
             State};
        false ->
            Id = new_id(),
            Job = Job0#megaphone_job{id = Id, node = node(), recipients = length(Recipients),
                                     started = erlang:system_time(millisecond)},
            {atomic, ok} = mnesia:sync_transaction(
                             fun() ->
                                     mnesia:write(#megaphone_job_rcpt{id = Id, list = Recipients}),
                                     mnesia:write(Job)
                             end),
            sync(),
            case run(Id, State) of
                {ok, State1} ->
                    {reply, #{ok => true, job => Id, recipients => length(Recipients)}, State1};
                {error, Why} ->
                    {reply, error_reply(internal, Why), State}
            end
    end;
handle_call(Request, From, State) ->
    ?WARNING_MSG("Unexpected call from ~p: ~p", [From, Request]),
    {noreply, State}.

handle_cast(Msg, State) ->
    ?WARNING_MSG("Unexpected cast: ~p", [Msg]),
    {noreply, State}.

handle_info({'DOWN', Mon, process, _Pid, Reason}, #state{running = Running} = State) ->
    case maps:take(Mon, Running) of
        {Id, Running1} ->
            ended(Id, Reason),
            {noreply, State#state{running = Running1}};
        error ->
            {noreply, State}
    end;
handle_info(prune, State) ->
    prune(),
    erlang:send_after(?PRUNE_INTERVAL, self(), prune),
    {noreply, State};
handle_info(Info, State) ->
    ?WARNING_MSG("Unexpected info: ~p", [Info]),
    {noreply, State}.

terminate(_Reason, _State) -> ok.
code_change(_OldVsn, State, _Extra) -> {ok, State}.

run(Id, #state{running = Running} = State) ->
    case supervisor:start_child(?JOBS, [Id]) of
        {ok, Pid} when is_pid(Pid) ->
            {ok, State#state{running = Running#{erlang:monitor(process, Pid) => Id}}};
        {ok, undefined} ->
            %% The job process found nothing left to do (see its init/1).
            {ok, State};
        {error, Reason} ->
            ?ERROR_MSG("Megaphone announcement ~ts could not start: ~p", [Id, Reason]),
            mark_failed(Id),
            {error, <<"the job could not start">>}
    end.

%% A job process that ended normally has recorded its end itself. One
%% stopped by a shutdown stays `running`, to be resumed; one that crashed
%% is recorded as failed (restarting it would repeat its last batch, and
%% the cause would likely repeat too).
ended(_Id, normal) -> ok;
ended(_Id, shutdown) -> ok;
ended(_Id, {shutdown, _}) -> ok;
ended(Id, Reason) ->
    ?ERROR_MSG("Megaphone announcement ~ts failed: ~p", [Id, Reason]),
    mark_failed(Id).

mark_failed(Id) ->
    mnesia:sync_transaction(
      fun() ->
              case mnesia:read(megaphone_job, Id, write) of
                  [#megaphone_job{state = running} = J] ->
                      mnesia:write(J#megaphone_job{state = failed,
                                                   ended = erlang:system_time(millisecond)}),
                      mnesia:delete({megaphone_job_rcpt, Id});
                  _ -> ok
              end
      end),
    sync().

%% Puts what the transactions so far wrote on disk. Mnesia appends every
%% commit to its transaction log (LATEST.LOG) through a write buffer that a
%% killed node loses, and replays that log over the tables when it starts
%% again: even a dets table synced by hand is set back to whatever the log
%% last reached (tried: a job resumed five batches back, its recipients got
%% it twice). The log is flushed and fsynced here, after each batch: the
%% batch's progress and what it left in offline storage (mod_offline's
%% Mnesia backend writes through the same log) reach the disk together, so
%% a recorded batch is never repeated and an unrecorded one is repeated
%% whole. Cost: one fsync of the log per batch (at most ten a second per job).
-spec sync() -> ok.
sync() ->
    mnesia:sync_log().

%% Ended jobs are kept for announce_retention (status, stats), then removed.
prune() ->
    Host = hd(ejabberd_option:hosts()),
    Keep = module_opt(Host, announce_retention, ?DEFAULT_RETENTION),
    Before = erlang:system_time(millisecond) - Keep,
    Old = [Id || #megaphone_job{id = Id, state = S, ended = E}
                     <- mnesia:dirty_match_object(#megaphone_job{_ = '_'}),
                 S /= running, is_integer(E), E < Before],
    lists:foreach(fun(Id) ->
                          mnesia:dirty_delete(megaphone_job, Id),
                          mnesia:dirty_delete(megaphone_job_rcpt, Id)
                  end, Old).

module_opt(Host, Name, Default) ->
    try gen_mod:get_module_opt(Host, mod_megaphone, Name)
    catch _:_ -> Default
    end.

%% Printable, URL-safe and unique across the cluster.
new_id() ->
    string:lowercase(binary:encode_hex(crypto:strong_rand_bytes(16))).
