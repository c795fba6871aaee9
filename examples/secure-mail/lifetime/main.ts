/** `node examples/secure-mail/lifetime/main.ts --config lifetime.json` */
import { readConfigArgument } from '../shared/service-setup.ts';
import { runMain } from '../shared/run-main.ts';
import { startLifetimeService } from './lifetime-service.ts';

runMain('lifetime', () => startLifetimeService(readConfigArgument()));
