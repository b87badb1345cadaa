-- ListTasks pages newest first per user by keyset on (created_at, id).
create index if not exists skin_analysis_tasks_user_created_idx
    on public.skin_analysis_tasks (user_id, created_at desc, id desc);
-- The janitor looks for unfinished tasks by age.
create index if not exists skin_analysis_tasks_unfinished_idx
    on public.skin_analysis_tasks (updated_at)
    where status in ('queued', 'running');
