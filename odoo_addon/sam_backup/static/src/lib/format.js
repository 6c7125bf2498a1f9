/** @odoo-module **/
/** Numbers as people read them: sizes, rates, durations, counts. */
const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function formatBytes(n) {
    if (!Number.isFinite(n) || n < 0)
        return '—';
    let v = n;
    let i = 0;
    while (v >= 1024 && i < SIZE_UNITS.length - 1) {
        v /= 1024;
        i++;
    }
    return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${SIZE_UNITS[i]}`;
}
export function formatCount(n) {
    return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}
/** An amount in the job's unit: bytes as sizes, anything else as a count with its unit. */
export function formatAmount(n, unit) {
    return unit === 'bytes' ? formatBytes(n) : `${formatCount(n)}${unit ? ` ${unit}` : ''}`;
}
export function formatRate(perSecond, unit) {
    if (!perSecond || !Number.isFinite(perSecond))
        return '';
    return `${formatAmount(perSecond, unit)}/s`;
}
export function formatDuration(ms) {
    if (!Number.isFinite(ms) || ms <= 0)
        return '';
    const s = Math.round(ms / 1000);
    if (s < 60)
        return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60)
        return `${m} min ${String(s % 60).padStart(2, '0')} s`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
/** Odoo's "YYYY-MM-DD HH:MM:SS" (UTC) in the browser's time zone. */
export function formatDateTime(value) {
    if (!value)
        return '';
    const d = new Date(`${value.replace(' ', 'T')}Z`);
    return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
}
