"""The throwaway PostgreSQL fixture gives isolated, working databases."""

import asyncpg

from tests.support.postgres import ThrowawayPostgres, with_driver


async def test_each_test_gets_an_empty_database(postgres_url: str) -> None:
    conn = await asyncpg.connect(with_driver(postgres_url, "postgresql"))
    try:
        await conn.execute("CREATE TABLE probe (id int)")
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 'probe'") == 1
    finally:
        await conn.close()


def test_databases_are_distinct(postgres_server: ThrowawayPostgres) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    for url in (first, second):
        postgres_server.drop_database(url.rsplit("/", 1)[1])
