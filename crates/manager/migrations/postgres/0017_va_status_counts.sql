-- smartlic license manager: how many product instances each virtual account holds by their last
-- authorization status (NONE for one never authorized), kept by triggers on every insert, delete,
-- change of VA and change of status of a product instance, so that a /metrics scrape reads a few
-- rows a VA instead of counting every instance. The renewals' stamp changes neither column, so
-- it fires none of these. Keep in step with the other engine's migration of the same number.

CREATE TABLE va_status_counts (
    va_id  TEXT NOT NULL REFERENCES virtual_accounts (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (va_id, status)
);

INSERT INTO va_status_counts (va_id, status, n)
    SELECT va_id, COALESCE(last_auth_status, 'NONE'), COUNT(*) FROM product_instances
    GROUP BY va_id, COALESCE(last_auth_status, 'NONE');

CREATE FUNCTION count_va_statuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN
        UPDATE va_status_counts SET n = n - 1
            WHERE va_id = OLD.va_id AND status = COALESCE(OLD.last_auth_status, 'NONE');
    END IF;
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO va_status_counts (va_id, status, n) VALUES (NEW.va_id, COALESCE(NEW.last_auth_status, 'NONE'), 1)
            ON CONFLICT (va_id, status) DO UPDATE SET n = va_status_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER product_instances_status_count
    AFTER INSERT OR DELETE ON product_instances
    FOR EACH ROW EXECUTE FUNCTION count_va_statuses();

CREATE TRIGGER product_instances_status_change
    AFTER UPDATE OF va_id, last_auth_status ON product_instances
    FOR EACH ROW
    WHEN (OLD.va_id IS DISTINCT FROM NEW.va_id OR OLD.last_auth_status IS DISTINCT FROM NEW.last_auth_status)
    EXECUTE FUNCTION count_va_statuses();
