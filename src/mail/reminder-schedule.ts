import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../platform/files.js';
import { isStratusError } from '../domain/errors.js';
import type { Mailer, MailMessage } from './mailer.js';
import { endorserSummaryMessage, expiryWarningMessage } from './reminders.js';
import type { EndorserEntries } from './reminders.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

type Kind = 'summary' | 'warning';

/** Per kind: when the last round finished, and the round under way (who has had their mail). */
interface KindState { done?: string; round?: { started: string; sent: string[] } }
type State = Partial<Record<Kind, KindState>>;

export interface ReminderSchedulerOptions {
  mailer: Mailer;
  /** Each endorser's latest, valid, not deprecated entries. */
  endorsers: () => Promise<EndorserEntries[]>;
  marketplaceUrl: () => string;
  /** Where rounds are recorded, so that a restart neither repeats nor skips one. */
  stateFile: string;
  now?: () => Date;
  /** How often to look whether a round is due (1 h). */
  checkEveryMs?: number;
  /** §6.4: the expiry warnings every day, the summaries every 30 days. */
  warningEveryMs?: number;
  summaryEveryMs?: number;
  /** A message that could not be sent; its round stays open and is taken up at the next check. */
  onError?: (e: unknown, to: string) => void;
}

export interface ReminderRun { summaries: number; warnings: number; failed: number }

/**
 * The endorser reminders of §6.4 (`endorser.reminder`): every 30 days each endorser's valid
 * entries, every day the entries expiring within 3 days. A round is recorded as it goes, one
 * recipient at a time, so a crash or an SMTP outage resumes it without mailing anyone twice.
 */
export class ReminderScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReminderRun> | undefined;
  private readonly now: () => Date;

  constructor(private readonly o: ReminderSchedulerOptions) {
    this.now = o.now ?? (() => new Date());
  }

  /** Checks now, then every `checkEveryMs`; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    const check = (): void => { void this.runDue().catch((e: unknown) => this.o.onError?.(e, '')); };
    this.timer = setInterval(check, this.o.checkEveryMs ?? HOUR_MS);
    this.timer.unref();
    check();
  }

  /** Stops checking and waits for a round under way to reach its next recipient. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Sends the rounds that are due (or were left open); one run at a time. */
  runDue(): Promise<ReminderRun> {
    this.running ??= this.run().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async run(): Promise<ReminderRun> {
    const result: ReminderRun = { summaries: 0, warnings: 0, failed: 0 };
    const state = this.readState();
    const now = this.now();
    const due = (kind: Kind, every: number): boolean => {
      const s = state[kind];
      if (s?.round) return true;
      return s?.done === undefined || now.getTime() - Date.parse(s.done) >= every;
    };
    const kinds = ([['warning', this.o.warningEveryMs ?? DAY_MS], ['summary', this.o.summaryEveryMs ?? 30 * DAY_MS]] as const)
      .filter(([kind, every]) => due(kind, every)).map(([kind]) => kind);
    if (kinds.length === 0) return result;
    const endorsers = await this.o.endorsers();
    const mp = this.o.marketplaceUrl();
    for (const kind of kinds) {
      const s: KindState = state[kind] ?? {};
      state[kind] = s;
      s.round ??= { started: now.toISOString(), sent: [] };
      const round = s.round;
      const sent = new Set(round.sent);
      let failed = false;
      for (const who of endorsers) {
        if (sent.has(who.email)) continue;
        const message: MailMessage | undefined = kind === 'summary' ? endorserSummaryMessage(mp, who) : expiryWarningMessage(mp, who, new Date(round.started));
        if (message) {
          try {
            await this.o.mailer.send(message);
            result[kind === 'summary' ? 'summaries' : 'warnings']++;
          } catch (e) {
            result.failed++;
            this.o.onError?.(e, who.email);
            // An address no mailer takes (not one plain address) is no outage: waiting for it
            // would hold this round open, and every later one, for good.
            if (!isStratusError(e, 'EMAIL_INVALID')) {
              failed = true;
              continue;
            }
          }
        }
        round.sent.push(who.email);
        this.writeState(state);
      }
      if (!failed) {
        s.done = round.started;
        delete s.round;
      }
      this.writeState(state);
    }
    return result;
  }

  private readState(): State {
    if (!existsSync(this.o.stateFile)) return {};
    try {
      return JSON.parse(readFileSync(this.o.stateFile, 'utf8')) as State;
    } catch {
      // Unreadable (never half-written: it is renamed into place): start afresh rather than stop reminding.
      return {};
    }
  }

  private writeState(state: State): void {
    writeFileAtomic(this.o.stateFile, JSON.stringify(state) + '\n', 0o600);
  }
}
