%% The Erlang side of bench/tasks: the same experiments, compiled (erlc),
%% on the same core. Run by run.sh:
%%   erl -noshell +P 4000000 -pa DIR -run tasks_bench pending N
%%   erl -noshell +P 4000000 -pa DIR -run tasks_bench rates M
%% Lines on stderr: "RESULT erlang N heap rss tasks=N", "RATE erlang_x n".
-module(tasks_bench).
-export([pending/1, rates/1]).

rss() ->
    {ok, B} = file:read_file("/proc/self/statm"),
    [_, R | _] = string:tokens(binary_to_list(B), " \n"),
    list_to_integer(R) * 4096.

collect() -> [garbage_collect(P) || P <- processes()], ok.

%% N processes that sleep, each a fresh closure capturing its own I.
pending([Arg]) ->
    N = list_to_integer(Arg),
    collect(),
    M0 = erlang:memory(total), R0 = rss(),
    Pids = [spawn(fun() -> receive after infinity -> I end end) || I <- lists:seq(1, N)],
    collect(),
    M1 = erlang:memory(total), R1 = rss(),
    io:format(standard_error, "RESULT erlang ~b ~.1f ~.1f tasks=~b~n",
              [N, (M1 - M0) / N, (R1 - R0) / N, length(Pids)]),
    halt().

rate(What, Count, Micros) ->
    io:format(standard_error, "RATE erlang_~s ~b~n", [What, round(Count / Micros * 1.0e6)]).

loop(Parent, 0) -> Parent ! done;
loop(Parent, K) -> receive _ -> loop(Parent, K - 1) end.

pong() -> receive {From, N} -> From ! N, pong() end.

rates([Arg]) ->
    M = list_to_integer(Arg),
    Self = self(),
    {T1, _} = timer:tc(fun() -> [spawn(fun() -> ok end) || _ <- lists:seq(1, M)] end),
    rate("spawn", M, T1),
    {T2, _} = timer:tc(fun() ->
        P = spawn(fun() -> loop(Self, M) end),
        [P ! I || I <- lists:seq(1, M)],
        receive done -> ok end
    end),
    rate("messages", M, T2),
    Pong = spawn(fun pong/0),
    R = M div 10,
    {T3, _} = timer:tc(fun() ->
        [begin Pong ! {Self, I}, receive I -> ok end end || I <- lists:seq(1, R)]
    end),
    rate("ping_pong_round_trips", R, T3),
    halt().
