-- What the request roles may do; row access is still decided by the RLS policy. Supabase grants
-- much of this by default; granting again is harmless.
grant usage on schema public to authenticated, service_role;
grant select, insert, update, delete on public.skin_analysis_tasks to authenticated, service_role;
