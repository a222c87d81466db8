-- smartlic license manager: product instances listed a page at a time, by hostname then id, for
-- an account or one of its virtual accounts. Keep in step with the postgres migration of the same
-- number.

-- Replaces the index on va_id alone: its first column serves every lookup by VA that one did.
DROP INDEX product_instances_va;
CREATE INDEX product_instances_va_hostname ON product_instances (va_id, hostname, id);
CREATE INDEX product_instances_account_hostname ON product_instances (account_id, hostname, id);
