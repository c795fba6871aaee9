/** `node examples/secure-mail/web/main.ts --config web.json` */
import { readConfigArgument } from '../shared/service-setup.ts';
import { runMain } from '../shared/run-main.ts';
import { startWebService } from './web-service.ts';

runMain('web', () => startWebService(readConfigArgument()));
