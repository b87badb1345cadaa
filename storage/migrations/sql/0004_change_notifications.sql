-- Every change to a task is announced on channel skin_analysis_tasks, whoever made it, so
-- WatchTask in any storage process sees it. The payload names the row only; watchers re-read it
-- under their own identity, so RLS still decides what they see.
create or replace function public.notify_skin_analysis_task_change()
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

drop trigger if exists trg_skin_analysis_tasks_notify on public.skin_analysis_tasks;
create trigger trg_skin_analysis_tasks_notify
after insert or update or delete on public.skin_analysis_tasks
for each row execute function public.notify_skin_analysis_task_change();
