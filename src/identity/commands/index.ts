/** Command functions for the CLI (`gatehouse user|client|token|keys …`). */
export * from './user.ts';
export * from './client.ts';
export * from './token.ts';
export * from './keys.ts';
