/** `useService` of Odoo's `@web/core/utils/hooks` (17.0, 18.0, 19.0), for the services used here. */

/** The `orm` service: `call` is `/web/dataset/call_kw/<model>/<method>`. */
export interface OrmService {
  call<T = unknown>(
    model: string,
    method: string,
    args?: unknown[],
    kwargs?: Record<string, unknown>,
  ): Promise<T>;
}

/** The `notification` service: a toast; returns its close function. */
export interface NotificationService {
  add(
    message: string,
    options?: { type?: 'info' | 'success' | 'warning' | 'danger'; title?: string; sticky?: boolean },
  ): () => void;
}

export declare function useService(name: 'orm'): OrmService;
export declare function useService(name: 'notification'): NotificationService;
