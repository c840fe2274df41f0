%%%----------------------------------------------------------------------
%%% File    : megaphone_announce_sup.erl
%%% Purpose : The announcer's supervision tree, started by mod_megaphone
%%%           (under ejabberd_gen_mod_sup, once per node whatever the number
%%%           of hosts):
%%%
%%%   megaphone_announce_sup (rest_for_one)
%%%     megaphone_announce_jobs (simple_one_for_one): one megaphone_announce_job
%%%                                                   process per running job
%%%     megaphone_announce: tables, job admission, resume after a restart
%%%
%%% Jobs do not hang off a link: an edge that goes away leaves them running.
%%%----------------------------------------------------------------------
-module(megaphone_announce_sup).
-behaviour(supervisor).

-export([start_link/0, start_jobs_link/0, init/1]).

-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, top).

-spec start_jobs_link() -> {ok, pid()} | {error, term()}.
start_jobs_link() ->
    supervisor:start_link({local, megaphone_announce_jobs}, ?MODULE, jobs).

init(top) ->
    %% rest_for_one: if the job supervisor goes, the manager restarts after
    %% it and resumes every unfinished job from Mnesia.
    {ok, {#{strategy => rest_for_one, intensity => 10, period => 60},
          [#{id => megaphone_announce_jobs,
             start => {?MODULE, start_jobs_link, []},
             type => supervisor, shutdown => infinity},
           #{id => megaphone_announce,
             start => {megaphone_announce, start_link, []},
             shutdown => 5000}]}};
init(jobs) ->
    %% temporary: a job that crashes is marked failed by the manager rather
    %% than restarted in a loop; one stopped by a shutdown stays `running` in
    %% Mnesia and is resumed when the node starts again.
    {ok, {#{strategy => simple_one_for_one, intensity => 100, period => 10},
          [#{id => megaphone_announce_job,
             start => {megaphone_announce_job, start_link, []},
             restart => temporary, shutdown => 5000}]}}.
