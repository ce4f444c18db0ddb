/**
 * The console's create form, sent to an IaaS instead of the service: when an adapter that
 * can create VMs is configured (`FtServiceOptions.createVia`), the form's VM is created
 * in the IaaS (ZStack's CreateVmInstance with the `cuju::ft` user tag when the box is
 * ticked), and the service learns of it like of any other ticked VM, through its sync.
 */
import type { CreateVm } from '../model.js';
import type { IaasVm } from './adapter.js';

/** An IaaS adapter that can also create VMs (the console's create form goes through it). */
export interface IaasCreator {
  /** The adapter's name (`zstack`). */
  readonly name: string;
  /** Creates the VM in the IaaS, ticked when `input.ft.enabled`; resolves once the IaaS has it. */
  createVm(input: CreateVm, signal?: AbortSignal): Promise<IaasVm>;
}

/** What `POST /api/v1/iaas/vms` answers: the IaaS's VM and the service id it will have. */
export interface IaasCreated {
  iaas: string;
  iaasId: string;
  id: string;
  name: string;
  ft: boolean;
}
