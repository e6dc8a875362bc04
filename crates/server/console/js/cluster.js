// The cluster view: members, roles, regions, leader, term, applied index and lag, and
// the `meridian cluster` actions (behind a confirmation) for sessions that may
// administer.
import { h, replace, fmtNum, confirmDialog, promptDialog, toast } from './dom.js';
import * as api from './api.js';

export function mountCluster(main, info) {
  const summary = h('div', { class: 'tiles', 'data-testid': 'cluster-summary' });
  const table = h('div', { 'data-testid': 'cluster-members' });
  const regions = h('div', { 'data-testid': 'cluster-regions' });
  const note = h('p', { class: 'muted small' });
  let timer = null;
  let busy = false;

  async function action(name, body, question) {
    if (!await confirmDialog('Cluster: ' + name, question, 'Yes, ' + name)) return;
    busy = true;
    try {
      await api.api('cluster/' + name, { method: 'POST', body });
      toast(name + ' done');
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      busy = false;
      refresh();
    }
  }

  async function refresh() {
    if (busy) return;
    let c;
    try { c = await api.api('cluster'); } catch (e) { replace(table, h('p', { class: 'error' }, e.message)); return; }
    const view = c.leader_view && c.leader_view.members ? c.leader_view : c.local;
    const leader = c.local.leader;
    replace(summary,
      tile('this node', String(c.node) + (c.region ? ' · ' + c.region : '')),
      tile('role', c.role),
      tile('leader', leader === null ? 'none' : 'node ' + leader),
      tile('term', String(c.local.term)),
      tile('applied index', fmtNum(c.local.applied)),
      tile('last log index', fmtNum(view.last_log_index)));
    const extra = ['region', 'lag_ms', 'last_contact_ms'].filter((f) => view.members.some((m) => m[f] !== undefined && m[f] !== null));
    const dash = (v, unit) => (v === null || v === undefined ? '–' : fmtNum(v) + (unit || ''));
    const rows = view.members.slice().sort((a, b) => a.id - b.id).map((m) => {
      const isLeader = m.id === leader;
      const acts = info.can_admin ? h('td', { class: 'actions' },
        m.voter && !isLeader ? h('button', { class: 'small', 'data-testid': 'transfer-' + m.id, onclick: () => action('transfer-leader', { id: m.id }, 'Make node ' + m.id + ' the leader? Writes pause for about one election timeout.') }, 'Make leader') : null,
        !m.voter ? h('button', { class: 'small', 'data-testid': 'promote-' + m.id, onclick: () => action('promote', { id: m.id }, 'Promote replica ' + m.id + ' to a voter?') }, 'Promote') : null,
        !isLeader ? h('button', { class: 'small danger', 'data-testid': 'remove-' + m.id, onclick: () => action('remove-node', { id: m.id }, 'Remove node ' + m.id + ' (' + m.addr + ') from the cluster? Stop its process afterwards.') }, 'Remove') : null) : null;
      return h('tr', { 'data-testid': 'member-row', 'data-id': String(m.id) },
        h('td', null, String(m.id), m.id === c.node ? h('span', { class: 'badge' }, 'this node') : null),
        h('td', { class: 'mono' }, m.addr),
        h('td', null, isLeader ? h('span', { class: 'badge ok' }, 'leader') : null, ' ', m.voter ? 'voter' : 'read replica'),
        extra.includes('region') ? h('td', { 'data-testid': 'member-region' }, m.region || '–') : null,
        h('td', { class: 'num' }, dash(m.matched)),
        h('td', { class: 'num', 'data-testid': 'member-lag' }, isLeader ? '0' : dash(m.lag_entries)),
        extra.includes('lag_ms') ? h('td', { class: 'num', 'data-testid': 'member-lag-ms' }, isLeader ? '0 ms' : dash(m.lag_ms, ' ms')) : null,
        extra.includes('last_contact_ms') ? h('td', { class: 'num' }, isLeader ? '–' : dash(m.last_contact_ms, ' ms ago')) : null,
        acts);
    });
    replace(table, h('table', { class: 'grid' },
      h('thead', null, h('tr', null, h('th', null, 'Node'), h('th', null, 'Cluster address'), h('th', null, 'Role'),
        extra.includes('region') ? h('th', null, 'Region') : null,
        h('th', null, 'Matched index'), h('th', null, 'Lag (entries)'),
        extra.includes('lag_ms') ? h('th', null, 'Lag (time)') : null,
        extra.includes('last_contact_ms') ? h('th', null, 'Last contact') : null,
        info.can_admin ? h('th', null, 'Actions') : null)),
      h('tbody', null, rows)));
    const regs = view.regions || [];
    replace(regions, regs.length ? h('table', { class: 'grid' },
      h('thead', null, h('tr', null, h('th', null, 'Region'), h('th', null, 'Kind'), h('th', null, 'Members'),
        h('th', null, 'Largest lag (entries)'), h('th', null, 'Largest lag (time)'), h('th', null, 'Last contact'), info.can_admin ? h('th', null, '') : null)),
      h('tbody', null, regs.map((r) => h('tr', { 'data-testid': 'region-row', 'data-region': r.name },
        h('td', null, r.name || '(not reported)'),
        h('td', null, r.primary ? h('span', { class: 'badge ok' }, 'primary') : 'read region'),
        h('td', null, r.members.length ? r.members.map((id) => 'node ' + id).join(', ') : 'none yet'),
        h('td', { class: 'num' }, dash(r.lag_entries)),
        h('td', { class: 'num', 'data-testid': 'region-lag-ms' }, dash(r.lag_ms, ' ms')),
        h('td', { class: 'num' }, dash(r.last_contact_ms, ' ms ago')),
        info.can_admin ? h('td', { class: 'actions' }, !r.primary && r.name ? h('button', { class: 'small danger', 'data-testid': 'remove-region-' + r.name,
          onclick: () => action('remove-region', { name: r.name }, 'Remove region ' + r.name + '? Its replicas leave the group.') }, 'Remove region') : null) : null)))) : h('p', { class: 'muted' }, 'No regions reported.'));
    note.textContent = c.leader_view && c.leader_view.members
      ? 'Members and lag as the leader (node ' + leader + ') sees them.'
      : c.leader_error ? 'The leader could not be asked: ' + c.leader_error : 'Members and lag as this node (the leader) sees them.';
  }

  function tile(label, value) {
    return h('div', { class: 'tile' }, h('div', { class: 'muted small' }, label), h('div', { class: 'big' }, value));
  }

  const add = info.can_admin ? h('button', { 'data-testid': 'add-replica', onclick: async () => {
    const r = await promptDialog('Add a read replica', [
      { name: 'id', label: 'Node id', value: '' },
      { name: 'addr', label: 'Its cluster address (host:port)', value: '' }], 'Add');
    if (!r) return;
    action('add-replica', { id: Number(r.id), addr: r.addr }, 'Add node ' + r.id + ' at ' + r.addr + ' as a read replica?');
  } }, '+ Add replica') : null;

  const addRegion = info.can_admin ? h('button', { 'data-testid': 'add-region', onclick: async () => {
    const r = await promptDialog('Add a region', [{ name: 'name', label: 'Region name (its replicas join later with --region)', value: '' }], 'Add');
    if (!r || !r.name) return;
    action('add-region', { name: r.name }, 'Add region ' + r.name + '?');
  } }, '+ Add region') : null;
  replace(main, h('h1', null, 'Cluster'), summary, h('div', { class: 'row toolbar' }, h('button', { class: 'ghost', onclick: refresh }, 'Refresh'), add, addRegion),
    h('h2', null, 'Members'), table, note, h('h2', null, 'Regions'), regions);
  refresh();
  timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}
