-- smartlic license manager: how many product instances each virtual account holds by their last
-- authorization status (NONE for one never authorized), kept by triggers on every insert, delete,
-- change of VA and change of status of a product instance, so that a /metrics scrape reads a few
-- rows a VA instead of counting every instance. The renewals' stamp changes neither column, so
-- it fires none of these. Keep in step with the other engine's migration of the same number.
--
-- Inserts and deletes are counted once a statement, from the statement's own rows, for this
-- table and for va_instance_counts (migration 0014, whose row trigger this replaces): a bulk
-- load of 1,000 instances is one upsert a VA and status, where a row trigger updated the same
-- counter row 1,000 times, and in PostgreSQL each update leaves a dead version that only a
-- vacuum removes (a million loaded left 65 MiB of them behind each counter row). A change of VA
-- or status, one instance at a time, keeps a row trigger.

CREATE TABLE va_status_counts (
    va_id  TEXT NOT NULL REFERENCES virtual_accounts (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (va_id, status)
);

INSERT INTO va_status_counts (va_id, status, n)
    SELECT va_id, COALESCE(last_auth_status, 'NONE'), COUNT(*) FROM product_instances
    GROUP BY va_id, COALESCE(last_auth_status, 'NONE');

DROP TRIGGER product_instances_count ON product_instances;
DROP FUNCTION count_va_instances();

CREATE FUNCTION count_inserted_instances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO va_instance_counts (va_id, n)
        SELECT va_id, COUNT(*) FROM inserted GROUP BY va_id ORDER BY va_id
        ON CONFLICT (va_id) DO UPDATE SET n = va_instance_counts.n + EXCLUDED.n;
    INSERT INTO va_status_counts (va_id, status, n)
        SELECT va_id, COALESCE(last_auth_status, 'NONE'), COUNT(*) FROM inserted GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (va_id, status) DO UPDATE SET n = va_status_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_deleted_instances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE va_instance_counts c SET n = c.n - d.n
        FROM (SELECT va_id, COUNT(*) AS n FROM deleted GROUP BY va_id) d
        WHERE c.va_id = d.va_id;
    UPDATE va_status_counts c SET n = c.n - d.n
        FROM (SELECT va_id, COALESCE(last_auth_status, 'NONE') AS status, COUNT(*) AS n FROM deleted GROUP BY 1, 2) d
        WHERE c.va_id = d.va_id AND c.status = d.status;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_changed_instance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.va_id IS DISTINCT FROM NEW.va_id THEN
        UPDATE va_instance_counts SET n = n - 1 WHERE va_id = OLD.va_id;
        INSERT INTO va_instance_counts (va_id, n) VALUES (NEW.va_id, 1)
            ON CONFLICT (va_id) DO UPDATE SET n = va_instance_counts.n + 1;
    END IF;
    UPDATE va_status_counts SET n = n - 1
        WHERE va_id = OLD.va_id AND status = COALESCE(OLD.last_auth_status, 'NONE');
    INSERT INTO va_status_counts (va_id, status, n) VALUES (NEW.va_id, COALESCE(NEW.last_auth_status, 'NONE'), 1)
        ON CONFLICT (va_id, status) DO UPDATE SET n = va_status_counts.n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER product_instances_count_insert
    AFTER INSERT ON product_instances REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_instances();

CREATE TRIGGER product_instances_count_delete
    AFTER DELETE ON product_instances REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_instances();

CREATE TRIGGER product_instances_count_change
    AFTER UPDATE OF va_id, last_auth_status ON product_instances
    FOR EACH ROW
    WHEN (OLD.va_id IS DISTINCT FROM NEW.va_id OR OLD.last_auth_status IS DISTINCT FROM NEW.last_auth_status)
    EXECUTE FUNCTION count_changed_instance();
