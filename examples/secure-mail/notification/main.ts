/** `node examples/secure-mail/notification/main.ts --config notification.json` */
import { readConfigArgument } from '../shared/service-setup.ts';
import { runMain } from '../shared/run-main.ts';
import { startNotificationService } from './notification-service.ts';

runMain('notification', () => startNotificationService(readConfigArgument()));
