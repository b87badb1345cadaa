-- Idempotency-Key support: the same key from the same user names the same task, so a retried
-- POST /tasks runs no second analysis. Keys are the client's; NULL means none was sent.
alter table public.skin_analysis_tasks add column if not exists idempotency_key text;
create unique index if not exists skin_analysis_tasks_idempotency_idx
    on public.skin_analysis_tasks (user_id, idempotency_key)
    where idempotency_key is not null;
