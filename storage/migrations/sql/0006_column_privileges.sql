-- Who writes what, enforced by the database for every client, Supabase's REST API included:
-- a signed-in user (role authenticated, RLS scoping the rows to their own) may create a task
-- with only the columns a new request has (status then defaults to 'queued'), read it, delete
-- it and set its intake; status, result, error and routine are the service's (service_role).
-- anon gets nothing. Supabase grants the API roles every right on new public tables by default,
-- so the table-wide rights are revoked first and the column rights granted back.
revoke all on public.skin_analysis_tasks from anon;
revoke all on public.skin_analysis_tasks from authenticated;
grant select, delete on public.skin_analysis_tasks to authenticated;
grant insert (user_id, real_age, idempotency_key) on public.skin_analysis_tasks to authenticated;
grant update (intake) on public.skin_analysis_tasks to authenticated;
grant select, insert, update, delete on public.skin_analysis_tasks to service_role;
