-- smartlic license manager: daily usage history per virtual account and SKU, for the portal's
-- usage chart and the usage API. Keep in step with the other engine's migration of the same
-- number. A row is written when the VA's total changes (a usage report that changes a count,
-- a removal); days without a row carry the last total forward.
CREATE TABLE usage_daily (
    va_id   TEXT NOT NULL REFERENCES virtual_accounts (id),
    sku     TEXT NOT NULL,
    day     BIGINT NOT NULL,      -- 00:00 UTC of the day, epoch seconds
    peak    BIGINT NOT NULL,      -- highest total in use that day
    last    BIGINT NOT NULL,      -- total in use at the day's last change
    PRIMARY KEY (va_id, sku, day)
);
