// CX × EX: does a better employee experience go with a better customer experience? Agents as
// points (courses completed against the mean CSAT of their tickets) or teams as points (team eNPS
// against the NPS of the customers the team serves), the correlations cx_ex_link computes, and a
// table of every team. eNPS of a group where fewer than 5 people answered is never shown as a
// number (the metric withholds it so that no one's answer can be read): such a team reads
// "suppressed (< 5 answers)" and is not plotted.

import { h, fmt, fmtInt, raw } from '../lib/dom.js';
import { scatter } from '../lib/charts.js';

export const title = 'CX × EX';

/** The eNPS privacy threshold of cx_ex_link and enps (distinct respondents). */
const MIN_RESPONDENTS = 5;
const SUPPRESSED = `suppressed (< ${MIN_RESPONDENTS} answers)`;

/** What each correlation of cx_ex_link measures, in one line; `view` is the chart it belongs to. */
const CORRELATIONS = {
  corr_training_csat: {
    label: 'Training → CSAT (agents)',
    view: 'agents',
    text: 'Across agents with a CSAT answer: courses completed vs the mean CSAT of their tickets.',
  },
  corr_training_csat_answers: {
    label: 'Training → CSAT (answers)',
    view: 'agents',
    text: 'Across CSAT answers: courses the agent had completed when the customer answered vs the score.',
  },
  corr_enps_nps: {
    label: 'Team eNPS → customers’ NPS',
    view: 'teams',
    text: 'Across teams with a shown eNPS: team eNPS vs the NPS of the customers the team serves.',
  },
  corr_enps_agent_nps: {
    label: 'Team eNPS → agent’s customers’ NPS',
    view: 'teams',
    text: 'Across agents: their team’s eNPS vs the NPS of the customers they served.',
  },
};

/**
 * How many points each correlation of cx_ex_link is computed over, from the same rows (the metric
 * computes them over all its rows, so this holds for an unfiltered answer).
 */
const POINTS = {
  corr_training_csat: (rows) => `${rows.filter((r) => r.csat_mean !== null).length} agents`,
  corr_training_csat_answers: (rows) => `${rows.reduce((n, r) => n + (r.csat_responses || 0), 0)} answers`,
  corr_enps_nps: (rows) =>
    `${new Set(rows.filter((r) => r.team_enps !== null && r.team_customer_nps !== null).map((r) => r.team)).size} teams`,
  corr_enps_agent_nps: (rows) => `${rows.filter((r) => r.team_enps !== null && r.customer_nps !== null).length} agents`,
};

/** '1 answer', '1,204 answers'. */
function count(n, noun) {
  return `${fmtInt(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** Pearson r in words (|r| < 0.3 weak, < 0.6 moderate, else strong), so a non-statistician can read it. */
function strength(r, points) {
  if (r === null || r === undefined || Number.isNaN(r)) return 'not enough points';
  // Through two points a line always fits exactly: r = ±1 says nothing.
  if (points && /^2 /.test(points)) return 'only 2 points: ±1 by construction';
  const a = Math.abs(r);
  const size = a < 0.1 ? 'no clear' : a < 0.3 ? 'weak' : a < 0.6 ? 'moderate' : 'strong';
  if (size === 'no clear') return 'no clear link';
  return `${size} ${r > 0 ? 'positive' : 'negative'}`;
}

/** One entry per team of cx_ex_link: the team columns (repeated on each agent row) and agent sums. */
function teamsOf(link) {
  const teams = new Map();
  for (const r of link) {
    const name = r.team ?? '(no team)';
    let t = teams.get(name);
    if (!t) {
      t = {
        team: name,
        department: r.department,
        agents: 0,
        csatSum: 0,
        csatResponses: 0,
        enps: r.team_enps,
        enpsResponses: r.team_enps_responses,
        nps: r.team_customer_nps,
        npsResponses: r.team_customer_nps_responses,
      };
      teams.set(name, t);
    }
    t.agents += 1;
    if (r.csat_mean !== null && r.csat_responses > 0) {
      t.csatSum += r.csat_mean * r.csat_responses;
      t.csatResponses += r.csat_responses;
    }
  }
  return teams;
}

/**
 * Every team: those serving customers (from cx_ex_link) and every other team with active staff
 * (tenure) or eNPS answers (enps, which leaves out groups under the threshold). A team's eNPS is
 * cx_ex_link's when it serves customers (the number plotted and correlated), else enps's.
 */
function allTeams(link, enps, staff) {
  const teams = teamsOf(link);
  const enpsByTeam = new Map(enps.filter((r) => r.team !== null).map((r) => [r.team, r]));
  const staffByTeam = new Map(staff.filter((r) => r.team !== null).map((r) => [r.team, r]));
  for (const name of new Set([...staffByTeam.keys(), ...enpsByTeam.keys()])) {
    if (teams.has(name)) continue;
    const e = enpsByTeam.get(name);
    teams.set(name, {
      team: name,
      department: staffByTeam.get(name)?.department ?? null,
      agents: 0,
      csatSum: 0,
      csatResponses: 0,
      enps: e ? e.enps : null,
      enpsResponses: e ? e.responses : null,
      nps: null,
      npsResponses: 0,
    });
  }
  for (const t of teams.values()) t.staff = staffByTeam.get(t.team)?.employees ?? null;
  return [...teams.values()].sort((a, b) => (b.agents > 0) - (a.agents > 0) || String(a.team).localeCompare(String(b.team)));
}

function enpsCell(t) {
  if (t.enps === null || t.enps === undefined) {
    return h('td', { 'data-field': 'team_enps', 'data-suppressed': '', class: 'cx-suppressed' }, SUPPRESSED);
  }
  return h(
    'td',
    { 'data-field': 'team_enps', 'data-value': raw(t.enps), class: 'num' },
    h('strong', {}, fmt(t.enps, { digits: 0 })),
    h('span', { class: 'muted' }, ` (${count(t.enpsResponses, 'answer')})`),
  );
}

function teamsTable(teams) {
  return h(
    'table',
    { class: 'data cx-teams' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Team'),
        h('th', { scope: 'col' }, 'Department'),
        h('th', { scope: 'col', class: 'num' }, 'Active staff'),
        h('th', { scope: 'col', class: 'num' }, 'Team eNPS'),
        h('th', { scope: 'col', class: 'num' }, 'Its customers’ NPS'),
        h('th', { scope: 'col', class: 'num' }, 'Agents’ CSAT (mean, 1–5)'),
        h('th', { scope: 'col', class: 'num' }, 'Agents'),
      ),
    ),
    h(
      'tbody',
      {},
      teams.map((t) => {
        const csat = t.csatResponses > 0 ? t.csatSum / t.csatResponses : null;
        return h(
          'tr',
          { 'data-team': t.team, 'data-suppressed-enps': t.enps === null || t.enps === undefined ? 'true' : 'false' },
          h('th', { scope: 'row' }, t.team),
          h('td', {}, t.department ?? '—'),
          h('td', { class: 'num', 'data-field': 'staff', 'data-value': raw(t.staff) }, t.staff === null ? '—' : fmtInt(t.staff)),
          enpsCell(t),
          h(
            'td',
            { class: 'num', 'data-field': 'team_customer_nps', 'data-value': raw(t.nps) },
            t.nps === null || t.nps === undefined
              ? h('span', { class: 'muted' }, t.agents ? 'no answers' : 'serves no customers')
              : [
                  h('strong', {}, fmt(t.nps, { digits: 0 })),
                  h('span', { class: 'muted' }, ` (${count(t.npsResponses, 'answer')})`),
                ],
          ),
          h(
            'td',
            { class: 'num', 'data-field': 'csat_mean', 'data-value': raw(csat) },
            csat === null
              ? h('span', { class: 'muted' }, '—')
              : [
                  h('strong', {}, fmt(csat, { digits: 2 })),
                  h('span', { class: 'muted' }, ` (${count(t.csatResponses, 'answer')})`),
                ],
          ),
          h('td', { class: 'num', 'data-field': 'agents', 'data-value': raw(t.agents) }, fmtInt(t.agents)),
        );
      }),
    ),
  );
}

/** Writes each team's name beside its point (few points: readable on a projector without hovering). */
function labelPoints(chart, names) {
  const svg = chart.querySelector('svg');
  if (!svg) return;
  const width = svg.viewBox.baseVal.width;
  [...svg.querySelectorAll('circle.point')].forEach((c, i) => {
    const x = Number(c.getAttribute('cx'));
    const y = Number(c.getAttribute('cy'));
    // Points near the right edge get their label on the left, inside the chart.
    const left = x > width * 0.75;
    svg.append(
      h(
        'svg:text',
        {
          x: left ? x - 8 : x + 8,
          y: y + 4,
          'text-anchor': left ? 'end' : 'start',
          class: 'cx-point-label',
          'aria-hidden': 'true',
        },
        names[i],
      ),
    );
  });
}

/** The correlations the metric returns (every corr_* column), each with what it means. */
function correlationList(columns, rows, view) {
  const first = rows[0];
  const names = columns.map((c) => c.name).filter((n) => n.startsWith('corr_'));
  return h(
    'dl',
    { class: 'cx-corrs' },
    names.map((name) => {
      const info = CORRELATIONS[name] || { label: name, view: null, text: '' };
      const r = first ? first[name] : null;
      const points = POINTS[name] && rows.length ? POINTS[name](rows) : null;
      return h(
        'div',
        { class: `cx-corr${info.view === view ? ' cx-current' : ''}`, 'data-corr': name, 'data-value': raw(r) },
        h('dt', {}, info.label),
        h(
          'dd',
          {},
          h('span', { class: 'cx-r' }, r === null || r === undefined ? '—' : `r = ${fmt(r, { digits: 2 })}`),
          h('span', { class: 'cx-strength' }, ` ${strength(r, points)}`, points ? ` · ${points}` : null),
          info.text ? h('div', { class: 'muted' }, info.text) : null,
        ),
      );
    }),
  );
}

export async function render(main, ctx) {
  const { api } = ctx;
  const [link, enps, staff] = await Promise.all([
    api.metric('cx_ex_link'),
    api.metric('enps', { group_by: ['team'] }),
    api.metric('tenure', { group_by: ['department', 'team'], filters: { status: ['active'] } }),
  ]);
  const teams = allTeams(link.rows, enps.rows, staff.rows);
  let view = ctx.params.get('view') === 'teams' ? 'teams' : 'agents';

  const chart = h('div', { class: 'cx-chart', 'data-chart': 'cx-ex' });
  const caption = h('p', { class: 'cx-caption hint' });
  const chartTitle = h('h2', {});
  const corrBox = h('div', {});
  const buttons = ['agents', 'teams'].map((v) =>
    h(
      'button',
      { type: 'button', 'data-view': v, onclick: () => setView(v) },
      v === 'agents' ? 'Agents: training vs CSAT' : 'Teams: eNPS vs customers’ NPS',
    ),
  );

  function draw() {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.view === view));
    chart.dataset.view = view;
    chartTitle.textContent =
      view === 'agents'
        ? 'Agents: courses completed vs the CSAT of their customers'
        : 'Teams: team eNPS vs the NPS of the customers they serve';
    if (view === 'agents') {
      const agents = link.rows.filter((r) => r.csat_mean !== null && r.csat_mean !== undefined);
      scatter(chart, {
        points: agents.map((r) => ({
          x: r.completed_courses,
          y: r.csat_mean,
          group: r.team ?? '(no team)',
          label: `${r.name ?? r.employee_key} (${r.team ?? 'no team'}): ${count(r.completed_courses, 'course')}, CSAT ${fmt(r.csat_mean, { digits: 2 })} from ${count(r.csat_responses, 'answer')}`,
        })),
        xLabel: 'Courses completed',
        yLabel: 'Mean CSAT of the agent’s tickets (1–5)',
      });
      const without = link.rows.length - agents.length;
      caption.textContent = `One point per agent with a CSAT answer (${agents.length}), coloured by team${
        without ? `; ${without} agent${without === 1 ? '' : 's'} without a CSAT answer not shown` : ''
      }.`;
    } else {
      const served = teams.filter((t) => t.agents > 0);
      const plotted = served.filter((t) => t.enps !== null && t.enps !== undefined && t.nps !== null && t.nps !== undefined);
      const suppressed = served.filter((t) => t.enps === null || t.enps === undefined).length;
      scatter(chart, {
        points: plotted.map((t) => ({
          // One colour: each point carries its team's name beside it.
          x: t.enps,
          y: t.nps,
          label: `${t.team}: eNPS ${fmt(t.enps, { digits: 0 })} (${count(t.enpsResponses, 'answer')}), customers’ NPS ${fmt(t.nps, { digits: 0 })} (${count(t.npsResponses, 'answer')})`,
        })),
        xLabel: 'Team eNPS',
        yLabel: 'NPS of the customers the team serves',
      });
      labelPoints(
        chart,
        plotted.map((t) => t.team),
      );
      caption.textContent = `One point per team serving customers (${plotted.length})${
        suppressed ? `; ${suppressed} not plotted: eNPS ${SUPPRESSED}` : ''
      }.`;
    }
    corrBox.replaceChildren(correlationList(link.columns, link.rows, view));
  }

  function setView(v) {
    view = v;
    ctx.setParams({ view: v === 'agents' ? null : v });
    draw();
  }

  main.append(
    h(
      'div',
      { class: 'cx-ex' },
      h(
        'header',
        { class: 'page-head' },
        h('h1', {}, 'CX × EX'),
        h('div', { class: 'controls cx-toggle', role: 'group', 'aria-label': 'Points' }, buttons),
      ),
      h(
        'div',
        { class: 'cx-layout' },
        h('section', { class: 'card cx-chart-card' }, chartTitle, chart, caption),
        h(
          'section',
          { class: 'card' },
          h('h2', {}, 'Correlations'),
          h(
            'p',
            { class: 'lede' },
            'Pearson r over all agents/teams, from −1 to +1; positive = better-trained agents or healthier teams go with happier customers. Correlation is not cause.',
          ),
          corrBox,
        ),
      ),
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Teams'),
        h(
          'p',
          { class: 'lede' },
          `Team eNPS: all eNPS answers of the team’s employees; withheld when fewer than ${MIN_RESPONDENTS} people answered, so no one’s answer can be read. Customers’ NPS: customers whose support team it is. CSAT: answers about the team’s agents’ tickets.`,
        ),
        teamsTable(teams),
      ),
    ),
  );
  if (link.rows.length === 0) {
    chart.replaceWith(
      h('p', { class: 'muted', 'data-chart': 'cx-ex', 'data-points': '0' }, 'No agents yet: no ticket has an assignee.'),
    );
    corrBox.replaceChildren(correlationList(link.columns, [], view));
    return;
  }
  draw();
}
