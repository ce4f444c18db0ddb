/**
 * The FT console: a VM list with FT badges, a create form with the Fault tolerance
 * checkbox, and a VM page with its actions and history. Web components (lit), live over
 * server-sent events, usable from the keyboard and with a screen reader (native controls,
 * labels, a polite live region for status changes, modal dialogs for confirmations).
 */
import { css, html, LitElement, nothing } from 'lit';
import {
  ApiError,
  call,
  type FtEvent,
  type FtStatus,
  follow,
  type Host,
  type PlacementCheck,
  token,
  type VmView,
} from './api.js';
import { ACTIONS, type ActionName, badgeText, epochText, FT_HELP, figuresText } from './words.js';

const shared = css`
  :host { display: block; }
  h1, h2, h3 { margin: 0 0 0.6rem; }
  button { font: inherit; padding: 0.35rem 0.8rem; border-radius: 6px; border: 1px solid #7a8499; background: #fff; cursor: pointer; }
  button.primary { background: #1f5fbf; color: #fff; border-color: #1f5fbf; }
  button:disabled { opacity: 0.5; cursor: not-allowed; }
  button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
  .error { color: #a3121a; font-weight: 600; }
  .muted { color: #5a6375; }
  .card { background: #fff; border: 1px solid #d8dde6; border-radius: 10px; padding: 1rem 1.2rem; margin-bottom: 1rem; }
`;

export class FtsBadge extends LitElement {
  static override properties = { status: { attribute: false } };
  declare status: FtStatus | undefined;
  static override styles = css`
    span { display: inline-block; padding: 0.1rem 0.55rem; border-radius: 999px; font-weight: 600; font-size: 0.85rem; white-space: nowrap; }
    .protected { background: #d9f2df; color: #14532d; }
    .not-protected { background: #fde2e1; color: #7f1d1d; }
    .failing-over, .starting { background: #fff1c2; color: #6b4e00; }
    .failed-over { background: #ffe0c2; color: #7a3300; }
    .disabled { background: #e6e9ef; color: #374151; }
  `;
  override render() {
    if (!this.status) return nothing;
    const text = badgeText(this.status);
    return html`<span class=${this.status.state} data-state=${this.status.state} title=${this.status.detail ?? text}>${text}</span>`;
  }
}

export class FtsCreateForm extends LitElement {
  static override properties = {
    hosts: { attribute: false },
    check: { state: true },
    error: { state: true },
    busy: { state: true },
    ft: { state: true },
    via: { state: true },
    notice: { state: true },
  };
  declare hosts: Host[];
  /** The IaaS the form creates VMs in (ZStack's CreateVmInstance with the tag); '' : the service itself. */
  declare via: string;
  declare notice: string;
  declare check: PlacementCheck | undefined;
  declare error: string;
  declare busy: boolean;
  declare ft: boolean;
  static override styles = [
    shared,
    css`
      form { display: grid; grid-template-columns: max-content 1fr; gap: 0.6rem 1rem; align-items: center; max-width: 42rem; }
      .full { grid-column: 1 / -1; }
      .help { font-size: 0.9rem; margin: 0.2rem 0 0 1.8rem; }
      fieldset { border: 1px solid #d8dde6; border-radius: 8px; padding: 0.6rem 0.9rem; }
    `,
  ];

  constructor() {
    super();
    this.hosts = [];
    this.error = '';
    this.busy = false;
    this.ft = false;
    this.via = '';
    this.notice = '';
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.refreshCheck();
    void call<{ create: string | null }>('GET', '/api/v1/iaas').then(
      (r) => {
        this.via = r.create ?? '';
      },
      () => {},
    );
  }

  /** Whether a secondary could be placed for the chosen host and size (the checkbox's state). */
  async refreshCheck() {
    const host = this.input('host')?.value ?? '';
    const memory = this.input('memory')?.value ?? '256';
    try {
      this.check = await call<PlacementCheck>(
        'GET',
        `/api/v1/placement?${new URLSearchParams({ ...(host ? { host } : {}), memoryMiB: memory })}`,
      );
      if (!this.check.qualifies) this.ft = false;
    } catch (err) {
      this.check = { qualifies: false, reason: (err as Error).message, candidates: [] };
    }
  }

  private input(id: string): HTMLInputElement | HTMLSelectElement | null {
    return this.renderRoot?.querySelector(`#${id}`) ?? null;
  }

  private async submit(e: SubmitEvent) {
    e.preventDefault();
    this.error = '';
    this.notice = '';
    this.busy = true;
    const host = this.input('host')!.value;
    const preferred = this.input('backup')?.value ?? '';
    const body = {
      name: this.input('name')!.value.trim(),
      ...(host ? { host } : {}),
      memoryMiB: Number(this.input('memory')!.value),
      ft: {
        enabled: this.ft,
        reprotect:
          (this.input('reprotect') as HTMLInputElement | null)?.checked === false ? 'manual' : 'auto',
        ...(preferred ? { placement: { preferredHost: preferred } } : {}),
      },
    };
    try {
      if (this.via) {
        // Created in the IaaS: the service imports it (ticked) with its next sync.
        const made = await call<{ iaas: string; iaasId: string; id: string; name: string }>(
          'POST',
          '/api/v1/iaas/vms',
          body,
        );
        this.notice = `${made.name} was created in ${made.iaas} (${made.iaasId}); it appears below once the service imports it.`;
      } else {
        const view = await call<VmView>('POST', '/api/v1/vms', body);
        this.dispatchEvent(new CustomEvent('created', { detail: view, bubbles: true, composed: true }));
      }
      (this.renderRoot.querySelector('form') as HTMLFormElement).reset();
      this.ft = false;
      await this.refreshCheck();
    } catch (err) {
      this.error = (err as Error).message;
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const disabled = !this.check?.qualifies;
    return html`
      <section class="card" aria-labelledby="create-title">
        <h2 id="create-title">Create a VM</h2>
        ${this.via ? html`<p class="muted" data-test="create-via">VMs are created in ${this.via}; Fault tolerance adds its <code>cuju::ft</code> tag.</p>` : nothing}
        <form @submit=${this.submit}>
          <label for="name">Name</label>
          <input id="name" name="name" required maxlength="63" pattern="[A-Za-z0-9][A-Za-z0-9 ._\\-]*" autocomplete="off" />
          <label for="host">Host</label>
          <select id="host" @change=${() => this.refreshCheck()}>
            <option value="">Any (least loaded)</option>
            ${this.hosts.filter((h) => h.enabled).map((h) => html`<option value=${h.name}>${h.name} (${h.address})</option>`)}
          </select>
          <label for="memory">Memory (MiB)</label>
          <input id="memory" type="number" min="16" max="1048576" step="16" value="256" required @change=${() => this.refreshCheck()} />
          <fieldset class="full">
            <legend>Availability</legend>
            <input
              id="ft"
              type="checkbox"
              .checked=${this.ft}
              ?disabled=${disabled}
              aria-describedby=${disabled ? 'ft-help ft-why' : 'ft-help'}
              @change=${(e: Event) => {
                this.ft = (e.target as HTMLInputElement).checked;
              }}
            />
            <label for="ft"><strong>Fault tolerance</strong></label>
            <p class="help muted" id="ft-help">${FT_HELP}</p>
            ${
              disabled
                ? html`<p class="help error" id="ft-why" data-test="ft-disabled-reason">
                  Fault tolerance is unavailable: ${this.check?.reason ?? 'checking the hosts...'}
                </p>`
                : nothing
            }
            ${
              this.ft
                ? html`<div class="help">
                  <input id="reprotect" type="checkbox" checked />
                  <label for="reprotect">Restart the secondary by itself after a failover</label><br />
                  <label for="backup">Secondary host</label>
                  <select id="backup">
                    <option value="">Any qualifying host</option>
                    ${(this.check?.candidates ?? []).map((c) => html`<option value=${c}>${c}</option>`)}
                  </select>
                </div>`
                : nothing
            }
          </fieldset>
          <div class="full">
            <button class="primary" type="submit" ?disabled=${this.busy}>Create</button>
            ${this.error ? html`<span class="error" role="alert">${this.error}</span>` : nothing}
            ${this.notice ? html`<span class="muted" role="status" data-test="create-notice">${this.notice}</span>` : nothing}
          </div>
        </form>
      </section>
    `;
  }
}

export class FtsVmList extends LitElement {
  static override properties = { vms: { attribute: false } };
  declare vms: VmView[];
  static override styles = [
    shared,
    css`
      table { border-collapse: collapse; width: 100%; }
      th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid #e3e7ee; }
      th { font-size: 0.85rem; color: #5a6375; font-weight: 600; }
    `,
  ];
  constructor() {
    super();
    this.vms = [];
  }
  override render() {
    return html`
      <section class="card" aria-labelledby="list-title">
        <h2 id="list-title">Virtual machines</h2>
        ${
          this.vms.length === 0
            ? html`<p class="muted">No VM yet.</p>`
            : html`<table>
              <caption class="muted" style="text-align:left">FT status of every VM</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Primary host</th>
                  <th scope="col">Fault tolerance</th>
                  <th scope="col">Secondary host</th>
                  <th scope="col">Epoch</th>
                  <th scope="col">Figures</th>
                </tr>
              </thead>
              <tbody>
                ${this.vms.map(
                  (v) => html`<tr data-vm=${v.vm.id}>
                    <th scope="row"><a href="#/vm/${v.vm.id}">${v.vm.name}</a></th>
                    <td>${v.status.primaryHost ?? v.vm.host}</td>
                    <td><fts-badge .status=${v.status}></fts-badge></td>
                    <td data-col="secondary">${v.status.secondaryHost ?? '-'}</td>
                    <td>${epochText(v.status)}</td>
                    <td>${figuresText(v.status)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
        }
      </section>
    `;
  }
}

export class FtsVmPage extends LitElement {
  static override properties = {
    view: { attribute: false },
    events: { attribute: false },
    pending: { state: true },
    error: { state: true },
  };
  declare view: VmView | undefined;
  declare events: FtEvent[];
  declare pending: ActionName | undefined;
  declare error: string;
  static override styles = [
    shared,
    css`
      dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; }
      dt { color: #5a6375; }
      dd { margin: 0; }
      .actions { display: flex; gap: 0.5rem; flex-wrap: wrap; margin: 0.8rem 0; }
      ol { padding-left: 2.6rem; max-height: 24rem; overflow: auto; }
      li { margin: 0.2rem 0; }
      time { color: #5a6375; font-variant-numeric: tabular-nums; margin-right: 0.5rem; }
      dialog { border: 1px solid #7a8499; border-radius: 10px; max-width: 30rem; }
      dialog::backdrop { background: rgba(20, 24, 34, 0.45); }
    `,
  ];
  constructor() {
    super();
    this.events = [];
    this.error = '';
  }

  private available(a: ActionName): boolean {
    const v = this.view;
    if (v?.vm.desired !== 'running') return false;
    switch (a) {
      case 'turn-on':
        return !v.intent.enabled;
      case 'turn-off':
        return v.intent.enabled;
      case 'test-failover':
        return v.status.state === 'protected';
      case 'restart-secondary':
        return v.intent.enabled && v.status.secondaryHost === undefined && v.status.state !== 'starting';
    }
  }

  private ask(a: ActionName) {
    this.pending = a;
    this.error = '';
    void this.updateComplete.then(() =>
      (this.renderRoot.querySelector('dialog') as HTMLDialogElement).showModal(),
    );
  }

  private async confirm(ok: boolean) {
    const a = this.pending;
    (this.renderRoot.querySelector('dialog') as HTMLDialogElement).close();
    this.pending = undefined;
    if (!ok || !a || !this.view) return;
    try {
      await call('POST', `/api/v1/vms/${this.view.vm.id}/actions/${a}`);
    } catch (err) {
      this.error = err instanceof ApiError ? err.message : String(err);
    }
  }

  override render() {
    const v = this.view;
    if (!v) return html`<p>Loading...</p>`;
    const s = v.status;
    return html`
      <p><a href="#/">&larr; All VMs</a></p>
      <section class="card" aria-labelledby="vm-title">
        <h2 id="vm-title">${v.vm.name}</h2>
        <dl>
          <dt>Fault tolerance status</dt>
          <dd><fts-badge .status=${s}></fts-badge></dd>
          ${s.detail ? html`<dt>Why</dt><dd data-test="detail">${s.detail}</dd>` : nothing}
          <dt>Primary host</dt>
          <dd>${s.primaryHost ?? v.vm.host}</dd>
          <dt>Secondary location</dt>
          <dd data-test="secondary">${s.secondaryHost ?? '-'}</dd>
          <dt>Epoch (lockstep interval)</dt>
          <dd>${epochText(s)}</dd>
          <dt>Replication figures</dt>
          <dd>${figuresText(s)}</dd>
          <dt>After a failover</dt>
          <dd>${v.intent.reprotect === 'auto' ? 'the secondary restarts by itself' : 'wait for Restart Secondary'}</dd>
          <dt>Memory</dt>
          <dd>${v.vm.memoryMiB} MiB</dd>
        </dl>
        <div class="actions" role="group" aria-label="Fault tolerance actions">
          ${(Object.keys(ACTIONS) as ActionName[]).map(
            (
              a,
            ) => html`<button type="button" data-action=${a} ?disabled=${!this.available(a)} @click=${() => this.ask(a)}>
              ${ACTIONS[a].label}
            </button>`,
          )}
        </div>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      </section>
      <section class="card" aria-labelledby="history-title">
        <h3 id="history-title">Event history</h3>
        <ol data-test="history">
          ${this.events.map(
            (e) =>
              html`<li data-kind=${e.kind}><time datetime=${e.at}>${new Date(e.at).toLocaleTimeString()}</time>${e.message}</li>`,
          )}
        </ol>
      </section>
      <dialog aria-labelledby="confirm-text" @cancel=${() => (this.pending = undefined)}>
        ${
          this.pending
            ? html`<p id="confirm-text">${ACTIONS[this.pending].confirm(v.vm.name)}</p>
              <div class="actions">
                <button type="button" @click=${() => this.confirm(false)}>Cancel</button>
                <button type="button" class="primary" data-confirm @click=${() => this.confirm(true)}>
                  ${ACTIONS[this.pending].label}
                </button>
              </div>`
            : nothing
        }
      </dialog>
    `;
  }
}

export class FtsApp extends LitElement {
  static override properties = {
    vms: { state: true },
    hosts: { state: true },
    route: { state: true },
    events: { state: true },
    needToken: { state: true },
    announce: { state: true },
    live: { state: true },
  };
  declare vms: VmView[];
  declare hosts: Host[];
  declare route: string;
  declare events: FtEvent[];
  declare needToken: boolean;
  declare announce: string;
  declare live: boolean;
  private readonly stop = new AbortController();
  private following = false;
  static override styles = [
    shared,
    css`
      header { background: #1d2330; color: #fff; padding: 0.8rem 1.5rem; display: flex; align-items: baseline; gap: 1rem; }
      header h1 { font-size: 1.2rem; margin: 0; }
      main { padding: 1rem 1.5rem; max-width: 72rem; }
      .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    `,
  ];

  constructor() {
    super();
    this.vms = [];
    this.hosts = [];
    this.events = [];
    this.route = location.hash || '#/';
    this.needToken = false;
    this.announce = '';
    this.live = false;
  }

  override connectedCallback() {
    super.connectedCallback();
    window.addEventListener('hashchange', () => {
      this.route = location.hash || '#/';
      void this.loadEvents();
    });
    void this.load();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.stop.abort();
  }

  private get vmId(): string | undefined {
    return /^#\/vm\/([a-z0-9-]+)$/.exec(this.route)?.[1];
  }

  private async load() {
    try {
      [this.vms, this.hosts] = await Promise.all([
        call<VmView[]>('GET', '/api/v1/vms'),
        call<Host[]>('GET', '/api/v1/hosts'),
      ]);
      this.needToken = false;
      await this.loadEvents();
      if (!this.following) {
        this.following = true;
        void follow(
          (name, data) => this.onLive(name, data),
          this.stop.signal,
          () => {
            this.live = true;
          },
        );
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) this.needToken = true;
    }
  }

  private async loadEvents() {
    const id = this.vmId;
    this.events = id
      ? await call<FtEvent[]>('GET', `/api/v1/vms/${id}/events?limit=1000`).catch(() => [])
      : [];
  }

  private onLive(name: string, data: unknown) {
    if (name === 'status') {
      const s = data as FtStatus;
      const i = this.vms.findIndex((v) => v.vm.id === s.vmId);
      if (i === -1) {
        void call<VmView[]>('GET', '/api/v1/vms').then((v) => (this.vms = v));
        return;
      }
      const before = this.vms[i]!;
      if (before.status.state !== s.state || before.status.reason !== s.reason) {
        this.announce = `${before.vm.name}: ${badgeText(s)}`;
      }
      this.vms = this.vms.map((v, j) => (j === i ? { ...v, status: s } : v));
    } else if (name === 'event') {
      const e = data as FtEvent;
      if (e.vmId === this.vmId && !this.events.some((x) => x.id === e.id)) this.events = [...this.events, e];
      if (e.kind === 'intent' || e.kind === 'vm')
        void call<VmView[]>('GET', '/api/v1/vms').then((v) => (this.vms = v));
    }
  }

  private saveToken(e: SubmitEvent) {
    e.preventDefault();
    token.set((this.renderRoot.querySelector('#token') as HTMLInputElement).value.trim());
    void this.load();
  }

  override render() {
    const id = this.vmId;
    const view = id ? this.vms.find((v) => v.vm.id === id) : undefined;
    return html`
      <header>
        <h1>Cuju FT console</h1>
        <span class="muted" style="color:#c9d1e0" data-test="live">${this.live ? 'live' : 'connecting...'}</span>
      </header>
      <main>
        <div class="sr-only" role="status" aria-live="polite">${this.announce}</div>
        ${
          this.needToken
            ? html`<form class="card" @submit=${this.saveToken}>
              <label for="token">API token</label>
              <input id="token" type="password" autocomplete="off" required />
              <button class="primary" type="submit">Sign in</button>
            </form>`
            : id
              ? html`<fts-vm-page .view=${view} .events=${this.events}></fts-vm-page>`
              : html`<fts-create-form .hosts=${this.hosts} @created=${() => this.load()}></fts-create-form>
                <fts-vm-list .vms=${this.vms}></fts-vm-list>`
        }
      </main>
    `;
  }
}

customElements.define('fts-badge', FtsBadge);
customElements.define('fts-create-form', FtsCreateForm);
customElements.define('fts-vm-list', FtsVmList);
customElements.define('fts-vm-page', FtsVmPage);
customElements.define('fts-app', FtsApp);
