// The harness's stand-in for Odoo's @web/core/registry: named categories of key → value.
class Registry {
  constructor() {
    this.content = new Map();
    this.subRegistries = new Map();
  }
  add(key, value, { force = false } = {}) {
    if (this.content.has(key) && !force)
      throw new Error(`Cannot add key "${key}" in this registry: it already exists`);
    this.content.set(key, value);
    return this;
  }
  get(key, ...defaultValue) {
    if (!this.content.has(key)) {
      if (defaultValue.length) return defaultValue[0];
      throw new Error(`KeyNotFoundError: Cannot find key "${key}" in this registry`);
    }
    return this.content.get(key);
  }
  contains(key) {
    return this.content.has(key);
  }
  category(name) {
    if (!this.subRegistries.has(name)) this.subRegistries.set(name, new Registry());
    return this.subRegistries.get(name);
  }
}

export const registry = new Registry();
