import { Duration } from 'cdk8s';
import { PropValidator } from './validation';

// Schedules and durations as the controllers that read them parse them (the CronJob controller
// and Velero use robfig/cron; Velero's ttl is a Go duration). Internal.

const CRON_FIELDS: Array<[string, number, number]> = [['minute', 0, 59], ['hour', 0, 23], ['day of month', 1, 31], ['month', 1, 12], ['day of week', 0, 7]];

/**
 * A 5-field cron expression as Velero's parser (robfig/cron, standard spec) accepts it. Ranges,
 * steps, lists and names are checked by cron-parser; the field count and the Quartz-only
 * characters (L, W, #), which cron-parser accepts but Velero does not, are checked here.
 */
export function validateCron(v: PropValidator, prop: string, expression: string): void {
  if (typeof expression !== 'string' || expression.trim() === '') v.fail(prop, expression, 'must be a 5-field cron expression such as "0 0 * * *"');
  const problem = cronProblem(expression);
  if (problem !== undefined) v.fail(prop, expression, problem);
}

/** The verdict per expression; apps repeat the same few schedules, and checking one is not cheap. */
const cronVerdicts = new Map<string, string | undefined>();

function cronProblem(expression: string): string | undefined {
  if (!cronVerdicts.has(expression)) cronVerdicts.set(expression, checkCron(expression));
  return cronVerdicts.get(expression);
}

function checkCron(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `is not a 5-field cron expression (minute hour day-of-month month day-of-week); it has ${fields.length} field${fields.length === 1 ? '' : 's'}`;
  }
  for (const [i, field] of fields.entries()) {
    if (/[LW#]/.test(field.replace(/[A-Z]{3}/g, (name) => (/^(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT)$/.test(name) ? '' : name)))) {
      return `uses L, W or # in the ${CRON_FIELDS[i][0]} field, which Velero's cron parser does not support`;
    }
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { CronExpressionParser } = require('cron-parser') as typeof import('cron-parser');
    CronExpressionParser.parse(expression);
    return undefined;
  } catch (err) {
    const problem = (err as Error).message.replace(/^.*?got value (\S+) expected range (\S+).*$/, 'value $1 is outside $2');
    return `is not a valid cron expression: ${problem} (fields: ${CRON_FIELDS.map(([name, lo, hi]) => `${name} ${lo}-${hi}`).join(', ')})`;
  }
}

/** Go's duration format, which Velero's `ttl` uses: 720h0m0s. */
export function goDuration(duration: Duration): string {
  const total = duration.toSeconds();
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  return `${hours}h${minutes}m${seconds}s`;
}
