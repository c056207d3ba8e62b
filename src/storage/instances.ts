import type { Selectable } from 'kysely';
import { canTransition, isListed } from '../domain/instance.js';
import type { InstanceState } from '../domain/instance.js';
import { StratusError } from '../domain/errors.js';
import type { Database, InstancesTable } from './database.js';

export type InstanceRow = Omit<Selectable<InstancesTable>, 'state'> & { state: InstanceState };
export type NewInstance = Omit<InstanceRow, 'id' | 'state' | 'message' | 'disk' | 'address' | 'dir' | 'created' | 'updated' | 'spec'> & { spec?: string | null };

/** Instances in the database: created Pending, moved only along domain/instance.ts's steps. */
export class InstanceStore {
  constructor(private readonly database: Database, private readonly now: () => Date = () => new Date()) {}

  private get db(): Database['db'] { return this.database.db; }

  private stamp(): string {
    return this.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** A new instance, Pending; its vm ID is never one handed out before. */
  async create(i: NewInstance): Promise<InstanceRow> {
    const at = this.stamp();
    const row = await this.db.insertInto('instances')
      .values({ ...i, spec: i.spec ?? null, state: 'Pending', message: null, disk: null, address: null, dir: null, created: at, updated: at })
      .returningAll().executeTakeFirstOrThrow();
    return row as InstanceRow;
  }

  async get(id: number): Promise<InstanceRow | undefined> {
    return (await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst()) as InstanceRow | undefined;
  }

  /** An owner's instances (everyone's when owner is undefined), by id; Done ones only when asked. */
  async list(opts: { owner?: string; includeDone?: boolean } = {}): Promise<InstanceRow[]> {
    let q = this.db.selectFrom('instances').selectAll();
    if (opts.owner !== undefined) q = q.where('owner', '=', opts.owner);
    const rows = (await q.orderBy('id').execute()) as InstanceRow[];
    return opts.includeDone ? rows : rows.filter((r) => isListed(r.state));
  }

  /**
   * Moves an instance to `to` if its state is still `from`: a compare-and-set, so two requests
   * racing (a kill during a shutdown) cannot both win. Returns the new row, or undefined when
   * the state had already moved on. A step the state machine forbids is a programming error.
   */
  async transition(id: number, from: InstanceState, to: InstanceState, changes: Partial<Pick<InstanceRow, 'message' | 'disk' | 'address' | 'dir'>> = {}): Promise<InstanceRow | undefined> {
    if (!canTransition(from, to)) throw new StratusError('INTERNAL', `instance ${id}: ${from} → ${to} is not a step an instance can take`);
    const row = await this.db.updateTable('instances')
      .set({ ...changes, state: to, updated: this.stamp() })
      .where('id', '=', id).where('state', '=', from)
      .returningAll().executeTakeFirst();
    return row as InstanceRow | undefined;
  }

  /** Replaces what the instance was given (its spec JSON): the --save Epilog records each step there before it runs. */
  async setSpec(id: number, spec: string): Promise<void> {
    await this.db.updateTable('instances').set({ spec, updated: this.stamp() }).where('id', '=', id).execute();
  }

  /** Instances holding host resources whose state says so: what a restarted server must find again. */
  async live(): Promise<InstanceRow[]> {
    const rows = (await this.db.selectFrom('instances').selectAll().where('state', 'not in', ['Done', 'Failed']).orderBy('id').execute()) as InstanceRow[];
    return rows;
  }
}
