-- The request an idempotency key was first sent with, as a digest, so that the same key with a
-- different photo is refused (as the IETF Idempotency-Key draft says) instead of silently
-- answering with the first task. A new request's column: a user may insert it.
alter table public.skin_analysis_tasks add column if not exists request_fingerprint text;
grant insert (request_fingerprint) on public.skin_analysis_tasks to authenticated;
