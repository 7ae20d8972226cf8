-- Benchmark only: the floor's two tables, in the benchmark's own throwaway database. As lean as a
-- durable queue can be: a request row (the employee's features as jsonb) and a result row, one key each.
CREATE TABLE IF NOT EXISTS bench_floor_requests (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    features jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS bench_floor_results (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id  bigint NOT NULL UNIQUE,
    probability double precision NOT NULL
);
