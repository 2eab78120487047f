import { DuckDBInstance } from '@duckdb/node-api';
const instance = await DuckDBInstance.create(process.argv[2], { access_mode: 'READ_ONLY' });
const con = await instance.connect();
const big = (k, x) => typeof x === 'bigint' ? Number(x) : x;
console.log(JSON.stringify((await con.runAndReadAll("select version()")).getRows()));
const views = (await con.runAndReadAll("select view_name from duckdb_views() where not internal order by 1")).getRows().map(r => r[0]);
for (const v of views) {
  const r = await con.runAndReadAll(`select count(*) from ${v}`);
  console.log(v, JSON.stringify(r.getRows(), big));
}
const flow = await con.runAndReadAll("select f.link, count(*) from flows f group by all order by all");
console.log(JSON.stringify(flow.getRows(), big));
