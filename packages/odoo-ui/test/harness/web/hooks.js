// The harness's stand-in for Odoo's @web/core/utils/hooks: services come from the env.
import { useEnv } from '@odoo/owl';

export function useService(name) {
  const service = useEnv().services?.[name];
  if (!service) throw new Error(`Service ${name} is not available`);
  return service;
}
