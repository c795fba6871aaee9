/** `node examples/secure-mail/keys/main.ts --config keys.json` */
import { readConfigArgument } from '../shared/service-setup.ts';
import { runMain } from '../shared/run-main.ts';
import { startKeysService } from './keys-service.ts';

runMain('keys', () => startKeysService(readConfigArgument()));
