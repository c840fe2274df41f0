%% An announcement job (docs/announcer.md), kept in Mnesia (disc_copies, the
%% log synced after each write: megaphone_announce:sync/0) so that it
%% outlives the edge's link and an ejabberd restart resumes it from its last
%% recorded batch. Written by megaphone_announce (creation) and by
%% the job's process (megaphone_announce_job) after every batch.
-record(megaphone_job,
        {id :: binary(),
         %% the node whose job process runs it (resumed there after a restart)
         node :: node(),
         state = running :: running | done | failed,
         target :: binary(),                 %% <<"users">> | <<"room">> | <<"online">>
         host :: binary(),                   %% the local domain the job works in
         from :: binary(),                   %% the JID messages come from
         persist = false :: boolean(),
         message :: {body, binary()} | {stanza, binary(), boolean()},
         rate :: float(),                    %% recipients per second
         recipients = 0 :: non_neg_integer(),
         %% recipients handled and recorded: the next batch starts here
         cursor = 0 :: non_neg_integer(),
         delivered = 0 :: non_neg_integer(),
         offline = 0 :: non_neg_integer(),
         skipped = 0 :: non_neg_integer(),
         failed = 0 :: non_neg_integer(),
         started :: integer(),               %% erlang:system_time(millisecond)
         ended :: integer() | undefined}).

%% A job's recipient list, written once when the job starts (the job record
%% is rewritten after each batch; the list is not) and deleted when it ends.
%% {LUser, LServer} for a bare JID, {LUser, LServer, LResource} for one
%% session (target online), {invalid, Raw} for a name that is not a JID.
-type megaphone_recipient() :: {binary(), binary()} | {binary(), binary(), binary()}
                             | {invalid, binary()}.
-record(megaphone_job_rcpt,
        {id :: binary(),
         list = [] :: [megaphone_recipient()]}).
