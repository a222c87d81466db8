-- The event log is pruned by age (server --event-retention-days): an index on the time.
CREATE INDEX events_at ON events (at);
