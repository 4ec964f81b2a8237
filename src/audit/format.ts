/** The audit report as text for a person (the CLI prints JSON with --json instead). */
import type {
  AuditReport,
  Forecast,
  GrantRef,
  RegionReport,
  TagReport,
  UnreadableLine,
} from './types.js';

const SECONDS_PER_YEAR = 365.25 * 86_400;
/** Unexplained gaps listed per tag in the text report. */
const GAPS_SHOWN = 5;

/** A duration in the largest unit that reads well. */
export function humanDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${Math.round(seconds / 3600)} h`;
  if (seconds < 2 * SECONDS_PER_YEAR) return `${Math.round(seconds / 86_400)} days`;
  const years = seconds / SECONDS_PER_YEAR;
  return years < 1e6 ? `${Math.round(years)} years` : `${years.toExponential(1)} years`;
}

function rate(r: number): string {
  return r >= 100 ? String(Math.round(r)) : r.toPrecision(3);
}

function forecastText(f: Forecast | null): string {
  if (f === null) return '  forecast: no grant line carries the tag max\n';
  const head = `  forecast: ${f.idsLeft} IDs left before max ${f.max}`;
  if (f.idsPerSecond === null || f.lastsSeconds === null) {
    return `${head}; no rate (all grants at one instant)\n`;
  }
  const until = f.exhaustedAt === null ? '' : `, until ${f.exhaustedAt}`;
  return `${head}; at ${rate(f.idsPerSecond)} IDs/s (observed over ${humanDuration(f.spanSeconds)}) they last ${humanDuration(f.lastsSeconds)}${until}\n`;
}

function ref(g: GrantRef): string {
  const client = g.client === undefined ? '' : ` for ${g.client}`;
  const inc = g.incarnation === '' ? '' : `, store ${g.incarnation.slice(0, 12)}`;
  return `node ${g.node} ${g.kind} ${g.start}..${g.end}${client} at ${g.at}${inc}`;
}

/** A deployment as the report names it. */
function deploymentName(d: string): string {
  return d === '' ? '(lines without a deployment)' : d;
}

function tagText(t: TagReport, named: boolean): string {
  const where = named ? ` in ${deploymentName(t.deployment)}` : '';
  let out = `tag ${t.tag}${where}: ${t.grants} grants from ${t.nodes.length} node(s), ${t.idsGranted} IDs granted (${t.lowest}..${t.highest}), ${t.overlaps} overlaps\n`;
  for (const o of t.overlapList) {
    out += `  OVERLAP ${o.start}..${o.end} (${o.ids} IDs): ${ref(o.first)}  and  ${ref(o.second)}\n`;
  }
  if (t.overlaps > t.overlapList.length) {
    out += `  … and ${t.overlaps - t.overlapList.length} more overlaps (${t.overlappingIds} IDs in all)\n`;
  }
  const causes = Object.entries(t.gapCauses)
    .filter(([, n]) => n !== '0')
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
  out += `  gaps: ${t.gaps} (${t.gapIds} IDs)${causes === '' ? '' : `: ${causes}`}\n`;
  // The gaps no line fully explains, a few: where an operator looks first.
  const odd = t.gapList.filter((g) => g.causes.unexplained !== undefined).slice(0, GAPS_SHOWN);
  for (const g of odd) {
    const changed = g.incarnationChanged ? ', store incarnation changed across it' : '';
    out += `    unexplained gap ${g.start}..${g.end} (${g.causes.unexplained} of ${g.ids} IDs unexplained${changed})\n`;
  }
  const skipped = Object.entries(t.skipped)
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  out += `  skipped (as the nodes logged): ${skipped}\n`;
  if (t.handedBack !== '0' || t.handbacksIgnored > 0) {
    const ignored =
      t.handbacksIgnored > 0
        ? `; ${t.handbacksIgnored} handback lines ignored (no matching grant and remainder)`
        : '';
    out += `  handed back at a clean stop: ${t.handedBack} IDs (granted again: no overlap)${ignored}\n`;
  }
  if (t.incarnations.length > 1) {
    out += `  store incarnations: ${t.incarnations.length} (${t.incarnations.map((i) => i.slice(0, 12)).join(', ')})\n`;
  }
  return out + forecastText(t.forecast);
}

function place(u: UnreadableLine): string {
  return u.file === '' ? `line ${u.line}` : `${u.file}:${u.line}`;
}

/** The check across deployments, once some tag or worker ID of N > 1 regions was compared. */
function regionsText(g: RegionReport): string {
  if (g.tags === 0 && g.workerHolders === 0) return '';
  let out = `across ${g.deployments} deployments: ${g.tags} tag(s) in regions compared, ${g.overlaps} overlaps, ${g.unprovable} not provable`;
  out +=
    g.workerHolders > 0
      ? `; ${g.workerHolders} worker holder(s) in regions, ${g.workerOverlaps} overlaps\n`
      : '\n';
  for (const o of g.overlapList) {
    out += `  OVERLAP tag ${o.tag} region ${o.region} shape ${o.shape}: counter values ${o.start}..${o.end} (${o.ids} IDs) in ${o.first.deployment} ${ref(o.first)}  and in ${o.second.deployment} ${ref(o.second)}\n`;
  }
  if (g.overlaps > g.overlapList.length) {
    out += `  … and ${g.overlaps - g.overlapList.length} more overlaps (${g.overlappingIds} IDs in all)\n`;
  }
  for (const u of g.unprovableList) {
    out += `  NOT PROVABLE tag ${u.tag}: ${u.first.deployment} (region ${u.first.region}, shape ${u.first.shape}) and ${u.second.deployment} (region ${u.second.region}, shape ${u.second.shape}): ${u.reason}\n`;
  }
  if (g.unprovable > g.unprovableList.length) {
    out += `  … and ${g.unprovable - g.unprovableList.length} more not provable\n`;
  }
  for (const o of g.workerOverlapList) {
    out += `  OVERLAP worker ${o.worker} from ${o.from} to ${o.to}: ${o.first.deployment} node ${o.first.node} region ${o.first.region} (${o.first.floor}..${o.first.horizon}) and ${o.second.deployment} node ${o.second.node} region ${o.second.region} (${o.second.floor}..${o.second.horizon})\n`;
  }
  return out;
}

/** The last line: the verdict, in words a script's reader cannot mistake. */
function verdictText(r: AuditReport): string {
  switch (r.verdict) {
    case 'overlaps':
      return `${r.overlaps} OVERLAPS: some IDs were granted twice${r.unreadable > 0 ? ` (and ${r.unreadable} grant lines could not be read)` : ''}`;
    case 'unprovable':
      return `NOT PROVEN: ${r.regions.unprovable} pair(s) of deployments issue a tag in regions the audit cannot prove disjoint (another region count or shape); no overlap found${r.unreadable > 0 ? ` (and ${r.unreadable} grant lines could not be read)` : ''}`;
    case 'unreadable':
      return `NOT CLEAN: ${r.unreadable} grant line(s) could not be read, and an overlap may hide in them; no overlap among the lines read`;
    case 'empty':
      return 'NOTHING AUDITED: no grant line in the input (grant lines are info lines: a LOG_LEVEL above info drops them; GRANT_LOG keeps them in a file)';
    case 'clean':
      return 'no overlaps: no ID was granted twice';
  }
}

export function reportText(r: AuditReport): string {
  let out = '';
  // Deployments are named once a log holds more than one.
  const named = r.deployments.length > 1;
  for (const t of r.tags) out += tagText(t, named);
  const w = r.workers;
  if (w.holders > 0) {
    out += `snowflake workers: ${w.holders} holder(s) of ${w.workerIds} worker ID(s), ${w.overlaps} overlaps\n`;
    for (const o of w.overlapList) {
      const where = named ? ` in ${deploymentName(o.deployment)}` : '';
      out += `  OVERLAP worker ${o.worker}${where} from ${o.from} to ${o.to}: node ${o.first.node} (${o.first.floor}..${o.first.horizon}) and node ${o.second.node} (${o.second.floor}..${o.second.horizon})\n`;
    }
  }
  out += regionsText(r.regions);
  if (r.unreadable > 0) {
    out += `UNREADABLE grant lines: ${r.unreadable}\n`;
    for (const u of r.unreadableLines) out += `  ${place(u)}: ${u.why}\n`;
    if (r.unreadable > r.unreadableLines.length) {
      out += `  … and ${r.unreadable - r.unreadableLines.length} more\n`;
    }
  }
  const deployments = named ? ` in ${r.deployments.length} deployments` : '';
  out += `audit: ${r.lines} lines, ${r.grantLines} grant lines from ${r.nodes.length} node(s)${deployments}${r.duplicateLines > 0 ? `, ${r.duplicateLines} repeated lines counted once` : ''}; ${verdictText(r)}\n`;
  return out;
}
