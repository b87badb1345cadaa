-- Auth shim: what Supabase provides, for plain PostgreSQL. Skipped on Supabase (schema auth
-- already there). Roles as Supabase names them; auth.uid()/role()/jwt() exactly as Supabase
-- defines them (supabase/auth migrations), reading request.jwt.claims.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
end
$$;

create schema if not exists auth;

create table if not exists auth.users (
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    raw_user_meta_data jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create or replace function auth.uid()
returns uuid
language sql stable
as $$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

create or replace function auth.role()
returns text
language sql stable
as $$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

create or replace function auth.jwt()
returns jsonb
language sql stable
as $$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

-- Local mode only: a user is created on first sight. SECURITY DEFINER so the service's login
-- role needs no privilege on auth.users; only that role may execute it (granted at start).
create or replace function auth.ensure_local_user(user_id uuid)
returns void
language sql volatile security definer
set search_path = pg_catalog, auth
as $$
  insert into auth.users (id, aud, role) values (user_id, 'authenticated', 'authenticated')
  on conflict (id) do nothing
$$;
revoke all on function auth.ensure_local_user(uuid) from public;

grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;
