import t from 'tap';
import { DeviceTable } from '../../src/cep/rules/device-table.js';

t.test('slot maps of one table behave as Maps and share one record per key', async (t) => {
  const table = new DeviceTable();
  const a = table.map<number>();
  const b = table.map<string>();
  table.focus('dev-1');
  a.set('dev-1', 1).set('dev-2', 2);
  b.set('dev-1', 'x');
  t.equal(a.get('dev-1'), 1);
  t.equal(a.get('dev-2'), 2, 'a key other than the focused one is looked up');
  t.equal(b.get('dev-2'), undefined);
  t.ok(b.has('dev-1'));
  t.equal(a.size, 2);
  t.equal(b.size, 1);
  t.same(
    [...a],
    [
      ['dev-1', 1],
      ['dev-2', 2],
    ],
  );
  t.same([...a.keys()], ['dev-1', 'dev-2']);
  t.same([...a.values()], [1, 2]);
  const seen: string[] = [];
  a.forEach((v, k) => seen.push(`${k}=${v}`));
  t.same(seen, ['dev-1=1', 'dev-2=2']);
  t.ok(a.delete('dev-1'));
  t.notOk(a.delete('dev-1'), 'deleting twice reports nothing held');
  t.equal(a.size, 1);
  t.equal(b.get('dev-1'), 'x', 'the other slot of the record is kept');
  a.clear();
  t.equal(a.size, 0);
  t.same([...a.entries()], []);
});

t.test('a key with no state left leaves no record, so a flood of ids costs nothing after it', async (t) => {
  const table = new DeviceTable();
  const m = table.map<number>();
  for (let i = 0; i < 1000; i++) {
    table.focus(`flood-${i}`);
    m.set(`flood-${i}`, i);
    m.delete(`flood-${i}`);
  }
  t.equal(m.size, 0);
  t.same([...table.entries(m.slot)], []);
  table.focus('kept');
  m.set('kept', 1);
  t.equal(m.get('kept'), 1, 'the focused key gets a record when first written');
});

t.test('a released slot is emptied in every record and reused', async (t) => {
  const table = new DeviceTable();
  const first = table.map<number>();
  const other = table.map<number>();
  first.set('a', 1);
  other.set('a', 2);
  table.release(first.slot);
  const next = table.map<number>();
  t.equal(next.slot, first.slot);
  t.equal(next.get('a'), undefined, 'a reused slot starts empty');
  t.equal(other.get('a'), 2);
});
