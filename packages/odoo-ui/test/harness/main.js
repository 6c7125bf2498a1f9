// Mounts the addon's compiled backup panel as Odoo's form view would mount the widget: taken from
// the view_widgets registry, with an env whose `orm` service posts Odoo's JSON-RPC to the stand-in
// server, and a `notification` service that writes into #notifications.
import { App } from '@odoo/owl';
import { registry } from '@web/core/registry';
import '/sam_backup/static/src/components/backup_panel/backup_panel.js';

window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) =>
  window.__errors.push(String(e.reason?.message ?? e.reason)),
);

// What the page showed of each job, and when: for the progress-lag measurement.
window.__samSeen = [];
const last = new Map();
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.o_sam_backup_progress')) {
    const key = `${el.dataset.phase}|${el.dataset.done}|${el.dataset.state}`;
    if (last.get(el.dataset.job) === key) continue;
    last.set(el.dataset.job, key);
    window.__samSeen.push({
      job: Number(el.dataset.job),
      phase: el.dataset.phase ?? '',
      done: Number(el.dataset.done),
      state: el.dataset.state,
      t: Date.now(),
    });
  }
}).observe(document.body, {
  subtree: true,
  childList: true,
  attributes: true,
  attributeFilter: ['data-done', 'data-state', 'data-phase'],
});

let rpcId = 0;
const orm = {
  async call(model, method, args = [], kwargs = {}) {
    const res = await fetch(`/web/dataset/call_kw/${model}/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        id: ++rpcId,
        params: { model, method, args, kwargs },
      }),
    });
    const data = await res.json();
    if (data.error) {
      // Odoo's RPCError: message "Odoo Server Error", the server's own message in data.message.
      const error = new Error(data.error.message);
      error.name = 'RPC_ERROR';
      error.code = data.error.code;
      error.data = data.error.data;
      throw error;
    }
    return data.result;
  },
};

window.__notifications = [];
const notification = {
  add(message, options = {}) {
    window.__notifications.push({ message, type: options.type ?? 'info' });
    const div = document.createElement('div');
    div.className = `alert alert-${options.type ?? 'info'} o_notification`;
    div.textContent = message;
    document.getElementById('notifications').append(div);
    return () => div.remove();
  },
};

const templates = await Promise.all(window.SAM_TEMPLATES.map((url) => fetch(url).then((r) => r.text())));
const { component } = registry.category('view_widgets').get('sam_backup_panel');
const app = new App(component, {
  env: { services: { orm, notification } },
  props: { record: { resModel: 'res.config.settings', data: {} }, readonly: false },
  dev: true,
  test: true,
});
for (const t of templates) app.addTemplates(t);
await app.mount(document.getElementById('mount'));
window.__mounted = true;
