// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: binding to QEMU's virtio-balloon device. Probe, remove,
 * freeze and restore bring the layers up and down in mirrored order; the
 * device's config-change callback hands the new target to the policy.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/module.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "dmem_balloon.h"

static void dmem_config_changed(struct virtio_device *vdev)
{
	struct dmem_balloon *b = vdev->priv;

	/* A new target: what an offline took is the host's to replace. */
	WRITE_ONCE(b->offline_wait, false);
	dmem_queue_resize(b, 0);
}

static void dmem_set_stop(struct dmem_balloon *b, bool stop)
{
	spin_lock_irq(&b->stop_lock);
	b->stop_update = stop;
	spin_unlock_irq(&b->stop_lock);
}

static void dmem_cancel_work(struct dmem_balloon *b)
{
	dmem_set_stop(b, true);
	cancel_delayed_work_sync(&b->resize_work);
	cancel_work_sync(&b->stats_work);
	cancel_work_sync(&b->notify_work);
}

/*
 * Bring the device up: queues, poison value, DRIVER_OK, first stats buffer,
 * free page reporting, first resize. On failure the device is left reset,
 * its queues freed.
 */
static int dmem_start(struct dmem_balloon *b)
{
	int err;

	err = dmem_vqs_init(b);
	if (err)
		return err;
	dmem_write_poison(b);
	/* Accept work before the host can first hand the stats buffer back. */
	dmem_set_stop(b, false);
	virtio_device_ready(b->vdev);
	err = dmem_stats_start(b);
	if (err)
		goto fail;
	err = dmem_reporting_init(b);
	if (err)
		goto fail;
	mutex_lock(&b->xfer_lock);
	WRITE_ONCE(b->running, true);
	dmem_update_actual(b);	/* empty, whatever a reset left there */
	mutex_unlock(&b->xfer_lock);
	dmem_queue_resize(b, 0);
	return 0;

fail:
	dmem_cancel_work(b);
	dmem_vqs_exit(b);
	return err;
}

/*
 * The exact reverse of dmem_start(): stop free page reporting and the
 * workers, return every page to the guest telling the host (as far as it
 * answers), then reset the device, free its queues and return what the
 * host could not be told about.
 */
static void dmem_stop(struct dmem_balloon *b)
{
	/*
	 * A failed restore left nothing running, and the virtio core left the
	 * device marked FAILED: remove expects it reset.
	 */
	if (!b->running) {
		virtio_reset_device(b->vdev);
		return;
	}
	dmem_reporting_exit(b);
	dmem_cancel_work(b);

	/*
	 * Not while a memory block is half offline (hotplug.c), and no block
	 * goes offline until every page is back.
	 */
	mutex_lock(&b->offline_lock);
	dmem_release_all(b);
	mutex_lock(&b->xfer_lock);
	WRITE_ONCE(b->running, false);
	mutex_unlock(&b->xfer_lock);
	dmem_vqs_exit(b);
	dmem_release_rest(b);
	mutex_unlock(&b->offline_lock);
}

static int dmem_probe(struct virtio_device *vdev)
{
	struct dmem_balloon *b;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config space access is not supported\n");
		return -EINVAL;
	}

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	vdev->priv = b;
	b->vdev = vdev;
	b->tell_host_first = virtio_has_feature(vdev,
						VIRTIO_BALLOON_F_MUST_TELL_HOST);
	b->deflate_on_oom = virtio_has_feature(vdev,
					       VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	b->has_reporting = virtio_has_feature(vdev, VIRTIO_BALLOON_F_REPORTING);
	init_waitqueue_head(&b->acked);
	mutex_init(&b->xfer_lock);
	mutex_init(&b->offline_lock);
	spin_lock_init(&b->stop_lock);
	spin_lock_init(&b->stats_lock);
	INIT_DELAYED_WORK(&b->resize_work, dmem_resize_work);
	INIT_WORK(&b->stats_work, dmem_stats_work);
	/* The workers stay idle until dmem_start() clears stop_update. */
	b->stop_update = true;

	err = dmem_xfers_alloc(b);
	if (err)
		goto out_free_b;
	err = dmem_balloon_init(b);
	if (err)
		goto out_free_xfers;
	err = -ENOMEM;
	b->wq = alloc_ordered_workqueue("dmem_balloon", WQ_FREEZABLE);
	if (!b->wq)
		goto out_balloon;

	/* Before DRIVER_OK: the host may inflate as soon as the device is up. */
	if (b->deflate_on_oom) {
		b->oom_nb.notifier_call = dmem_oom_notify;
		b->oom_nb.priority = 80;
		err = register_oom_notifier(&b->oom_nb);
		if (err)
			goto out_destroy_wq;
	}
	err = dmem_hotplug_init(b);
	if (err)
		goto out_oom;
	err = dmem_start(b);
	if (err)
		goto out_hotplug;
	dmem_debugfs_init(b);

	dev_info(&vdev->dev,
		 "bound: stats %s, tell-host %s, deflate-on-oom %s, free page reporting %s\n",
		 b->stats_vq ? "on" : "off", b->tell_host_first ? "on" : "off",
		 b->deflate_on_oom ? "on" : "off",
		 b->has_reporting ? "on" : "off");
	if (!b->deflate_on_oom)
		dev_info(&vdev->dev,
			 "host did not offer deflate-on-oom: only the floor protects this guest (libvirt: <memballoon ... deflate-on-oom='on'/>)\n");
	return 0;

out_hotplug:
	dmem_hotplug_exit(b);
out_oom:
	if (b->deflate_on_oom)
		unregister_oom_notifier(&b->oom_nb);
out_destroy_wq:
	destroy_workqueue(b->wq);
out_balloon:
	dmem_balloon_exit(b);
out_free_xfers:
	dmem_xfers_free(b);
out_free_b:
	kfree(b);
	return err;
}

/* The exact reverse of dmem_probe(); the driver core removed our sysfs. */
static void dmem_remove(struct virtio_device *vdev)
{
	struct dmem_balloon *b = vdev->priv;

	dmem_debugfs_exit(b);
	/* Stopped first: a block going offline meanwhile finishes with us. */
	dmem_stop(b);
	dmem_hotplug_exit(b);
	if (b->deflate_on_oom)
		unregister_oom_notifier(&b->oom_nb);
	destroy_workqueue(b->wq);
	dmem_balloon_exit(b);
	dmem_xfers_free(b);
	kfree(b);
}

#ifdef CONFIG_PM_SLEEP
/* Our workqueue is freezable: the PM core has already frozen it. */
static int dmem_freeze(struct virtio_device *vdev)
{
	dmem_stop(vdev->priv);
	return 0;
}

static int dmem_restore(struct virtio_device *vdev)
{
	return dmem_start(vdev->priv);
}
#endif

static int dmem_validate(struct virtio_device *vdev)
{
	/*
	 * Free page reporting lets the host discard reported pages; without a
	 * way to tell it how free pages must read back (PAGE_POISON), only
	 * allow it when the kernel does not rely on their content.
	 */
	if (!want_init_on_free() && !page_poisoning_enabled_static())
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_PAGE_POISON);
	else if (!virtio_has_feature(vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		__virtio_clear_bit(vdev, VIRTIO_BALLOON_F_REPORTING);

	/* Reporting runs with GFP_NOWAIT: no indirect descriptor tables. */
	__virtio_clear_bit(vdev, VIRTIO_RING_F_INDIRECT_DESC);
	/*
	 * As virtio_balloon: the device reads guest-physical PFNs, which
	 * no IOMMU mapping can translate.
	 */
	__virtio_clear_bit(vdev, VIRTIO_F_ACCESS_PLATFORM);
	return 0;
}

static const struct virtio_device_id dmem_id_table[] = {
	{ VIRTIO_ID_BALLOON, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int dmem_features[] = {
	VIRTIO_BALLOON_F_MUST_TELL_HOST,
	VIRTIO_BALLOON_F_STATS_VQ,
	VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	VIRTIO_BALLOON_F_PAGE_POISON,
	VIRTIO_BALLOON_F_REPORTING,
};

static struct virtio_driver dmem_driver = {
	.feature_table = dmem_features,
	.feature_table_size = ARRAY_SIZE(dmem_features),
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.driver.dev_groups = dmem_dev_groups,
	.id_table = dmem_id_table,
	.validate = dmem_validate,
	.probe = dmem_probe,
	.remove = dmem_remove,
	.config_changed = dmem_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = dmem_freeze,
	.restore = dmem_restore,
#endif
};

/* A balloon device that another driver (the in-tree one) holds: say so. */
static int dmem_check_foreign(struct device *dev, void *unused)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct device_driver *drv = READ_ONCE(dev->driver);

	if (vdev->id.device != VIRTIO_ID_BALLOON || !drv ||
	    drv == &dmem_driver.driver)
		return 0;
	pr_warn("%s is bound to %s, not dmem_balloon: blacklist it (install dmem_balloon.conf in /etc/modprobe.d and rebuild the initramfs) or rebind now: echo %s > /sys/bus/virtio/drivers/%s/unbind; echo %s > /sys/bus/virtio/drivers/dmem_balloon/bind\n",
		dev_name(dev), drv->name, dev_name(dev), drv->name,
		dev_name(dev));
	return 0;
}

static int __init dmem_init(void)
{
	int err;

	dmem_debugfs_module_init();
	err = register_virtio_driver(&dmem_driver);
	if (err) {
		dmem_debugfs_module_exit();
		return err;
	}
	bus_for_each_dev(dmem_driver.driver.bus, NULL, NULL,
			 dmem_check_foreign);
	return 0;
}

static void __exit dmem_exit(void)
{
	unregister_virtio_driver(&dmem_driver);
	dmem_debugfs_module_exit();
}

module_init(dmem_init);
module_exit(dmem_exit);
MODULE_DEVICE_TABLE(virtio, dmem_id_table);
MODULE_DESCRIPTION("dmem: virtio-balloon driver for Dynamic Memory");
MODULE_LICENSE("GPL");
