-- Webhook messages wait here until delivered or given up: a gateway restart, a full queue or a
-- slow endpoint loses none of them, and any gateway replica may deliver (a lease marks who is
-- trying now). In the private schema, out of the API roles' reach; the service's login role
-- uses it directly (granted when storage starts).
create table if not exists skin_private.webhook_outbox (
    message_id text primary key,
    event text not null,
    user_id uuid not null,
    body text not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    leased_until timestamptz,
    last_error text,
    delivered_at timestamptz,
    given_up_at timestamptz,
    created_at timestamptz not null default now()
);
create index if not exists webhook_outbox_due_idx
    on skin_private.webhook_outbox (next_attempt_at)
    where delivered_at is null and given_up_at is null;
revoke all on skin_private.webhook_outbox from public;
