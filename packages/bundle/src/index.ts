export const FORMAT_VERSION = 1 as const;
