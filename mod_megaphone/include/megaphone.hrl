%% The "socket" an ejabberd_c2s session holds when it runs over the link.
%% It is a plain term: the session has no process of its own besides c2s.
%% c2s writes its frames straight onto the link's TCP socket (`sock`), from
%% its own process, and sends control messages to the link process (`link`),
%% which owns the socket and feeds c2s its input.
-record(megaphone_socket,
        {link :: pid(),
         sock :: gen_tcp:socket(),
         id :: pos_integer(),
         transport :: http_bind | websocket,
         peer :: {inet:ip_address(), inet:port_number()}}).
