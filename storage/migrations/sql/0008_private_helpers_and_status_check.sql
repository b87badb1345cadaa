-- The change-notification function moves to the private schema: on Supabase, functions in
-- public are part of the REST API's surface, and nothing of the project's but the task table
-- belongs there.
create or replace function skin_private.notify_task_change()
returns trigger
language plpgsql
as $$
declare
    row_data public.skin_analysis_tasks;
begin
    if tg_op = 'DELETE' then
        row_data := old;
    else
        row_data := new;
    end if;
    perform pg_notify(
        'skin_analysis_tasks',
        json_build_object(
            'kind', 'change', 'op', lower(tg_op), 'task_id', row_data.id, 'status', row_data.status
        )::text
    );
    return null;
end;
$$;
revoke all on function skin_private.notify_task_change() from public;

drop trigger if exists trg_skin_analysis_tasks_notify on public.skin_analysis_tasks;
create trigger trg_skin_analysis_tasks_notify
after insert or update or delete on public.skin_analysis_tasks
for each row execute function skin_private.notify_task_change();
drop function if exists public.notify_skin_analysis_task_change();

-- status is free text in the seed: a client that wrote 'pending' got a task no service could
-- read or move on. A task with a status outside the lifecycle can never finish, so it is failed
-- with a reason, then the lifecycle is enforced (added NOT VALID, then validated, so the check
-- of existing rows does not block writers for long).
update public.skin_analysis_tasks
   set status = 'failed',
       error = coalesce(error, 'failed: the task had an unknown status ''' || status || '''')
 where status not in ('queued', 'running', 'succeeded', 'failed');
alter table public.skin_analysis_tasks
    drop constraint if exists skin_analysis_tasks_status_check;
alter table public.skin_analysis_tasks
    add constraint skin_analysis_tasks_status_check
    check (status in ('queued', 'running', 'succeeded', 'failed')) not valid;
alter table public.skin_analysis_tasks validate constraint skin_analysis_tasks_status_check;
