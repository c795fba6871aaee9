import * as pulumi from '@pulumi/pulumi';

/**
 * Refuses the stack's configuration, naming the key, before any resource is registered.
 *
 * A `RunError` because Pulumi prints it as a plain message and exits, without the stack trace
 * and program text an unhandled error gets: the message is for the operator who set the key.
 */
export function refuse(config: pulumi.Config, key: string, why: string): never {
  throw new pulumi.RunError(`${config.name}:${key} ${why}`);
}
