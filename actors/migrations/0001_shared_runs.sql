-- The shared run store of several Pilothouse nodes. `runs.status` is the run's status as the
-- API reports it; `state` mirrors `status.state` for the queue and the reaper. Every write a
-- node makes for a run it owns is guarded by `epoch`.

CREATE TABLE nodes (
    node_id     text PRIMARY KEY,
    lease_until timestamptz NOT NULL,
    slots       integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    state            text NOT NULL,
    request          jsonb NOT NULL,
    labels           jsonb NOT NULL DEFAULT '{}',
    -- a run carrying credentials runs only where they were submitted (they never reach the database)
    pinned_node      text,
    owner            text,
    epoch            bigint NOT NULL DEFAULT 0,
    attempt          integer NOT NULL DEFAULT 0,
    acted            boolean NOT NULL DEFAULT false,
    cancel_requested boolean NOT NULL DEFAULT false,
    status           jsonb NOT NULL,
    queued_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runs_queue ON runs (queued_at, id) WHERE state = 'queued';
CREATE INDEX runs_live ON runs (owner) WHERE state IN ('starting', 'running');
CREATE INDEX runs_state ON runs (state, id);

CREATE TABLE run_events (
    run_id uuid NOT NULL REFERENCES runs (id),
    seq    bigint NOT NULL,
    -- the owner's epoch when it wrote the event (0: written at submit or by the store itself)
    epoch  bigint NOT NULL,
    kind   text NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (run_id, seq)
);
