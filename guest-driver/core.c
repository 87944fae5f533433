// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: virtio transport. Binds QEMU's virtio-balloon device, owns
 * its virtqueues and config space, and carries page lists to the host.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/module.h>
#include <linux/oom.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <uapi/linux/virtio_ring.h>

#include "dmem_balloon.h"

enum dmem_vq {
	DMEM_VQ_INFLATE,
	DMEM_VQ_DEFLATE,
	DMEM_VQ_STATS,
	DMEM_VQ_REPORTING,
	DMEM_VQ_MAX
};

static void dmem_ack(struct virtqueue *vq)
{
	struct dmem_balloon *b = vq->vdev->priv;

	wake_up(&b->acked);
}

static struct virtqueue *dmem_xfer_vq(struct dmem_balloon *b,
				      struct dmem_xfer *x)
{
	return x->inflate ? b->inflate_vq : b->deflate_vq;
}

void dmem_xfer_init(struct dmem_xfer *x)
{
	INIT_LIST_HEAD(&x->pages);
}

/* The host is done with @x: inflated pages now belong to the balloon. */
static void dmem_xfer_done(struct dmem_balloon *b, struct dmem_xfer *x)
{
	lockdep_assert_held(&b->xfer_lock);
	x->busy = false;
	if (x->inflate) {
		b->inflight_pfns -= x->nr;
		balloon_page_list_enqueue(&b->bdev_info, &x->pages);
	}
}

/* Take one returned buffer off @vq, if any; true if one came back. */
static bool dmem_reap(struct dmem_balloon *b, struct virtqueue *vq)
{
	struct dmem_xfer *x;
	unsigned int len;

	x = virtqueue_get_buf(vq, &len);
	if (!x)
		return false;
	dmem_xfer_done(b, x);
	return true;
}

/*
 * Wait until the host has returned @x. Buffers come back in any order and
 * whoever holds the lock reaps them all, so we wait on @x's flag, not on the
 * queue. The host is not trusted to behave: if the queue breaks (device
 * reset, surprise removal) we stop waiting rather than hang.
 */
void dmem_xfer_wait(struct dmem_balloon *b, struct dmem_xfer *x)
{
	struct virtqueue *vq = dmem_xfer_vq(b, x);

	lockdep_assert_held(&b->xfer_lock);
	while (x->busy) {
		wait_event(b->acked,
			   dmem_reap(b, vq) || virtqueue_is_broken(vq));
		if (x->busy && virtqueue_is_broken(vq))
			dmem_xfer_done(b, x);
	}
}

/* Queue @x to the host without waiting for it. */
void dmem_xfer_send(struct dmem_balloon *b, struct dmem_xfer *x)
{
	struct virtqueue *vq = dmem_xfer_vq(b, x);
	struct scatterlist sg;
	int err;

	lockdep_assert_held(&b->xfer_lock);
	if (WARN_ON_ONCE(x->busy))
		return;

	x->busy = true;
	if (x->inflate)
		b->inflight_pfns += x->nr;
	sg_init_one(&sg, x->pfns, sizeof(x->pfns[0]) * x->nr);
	/*
	 * At most DMEM_NR_XFER + 2 buffers (log, compaction) of one descriptor
	 * each are ever queued, far below any ring size: adding fails only on
	 * a broken device, which will not discard anything; carry on.
	 */
	err = virtqueue_add_outbuf(vq, &sg, 1, x, GFP_KERNEL);
	if (err) {
		dev_warn_once(&b->vdev->dev, "cannot queue to the host: %d\n",
			      err);
		dmem_xfer_done(b, x);
		return;
	}
	virtqueue_kick(vq);
}

static int dmem_free_page_report(struct page_reporting_dev_info *pr,
				 struct scatterlist *sg, unsigned int nents)
{
	struct dmem_balloon *b = container_of(pr, struct dmem_balloon,
					      pr_dev_info);
	struct virtqueue *vq = b->reporting_vq;
	unsigned long bytes = 0;
	unsigned int len, i;
	int err;

	for (i = 0; i < nents; i++)
		bytes += sg[i].length;

	/* The page_reporting core sends at most its capacity, our ring size. */
	err = virtqueue_add_inbuf(vq, sg, nents, b, GFP_NOWAIT | __GFP_NOWARN);
	if (err)
		return err;
	virtqueue_kick(vq);
	wait_event(b->acked, virtqueue_get_buf(vq, &len) ||
		   virtqueue_is_broken(vq));
	atomic_long_add(bytes >> VIRTIO_BALLOON_PFN_SHIFT, &b->cnt.reported);
	return 0;
}

void dmem_queue_resize(struct dmem_balloon *b, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update) {
		if (delay)
			queue_delayed_work(b->wq, &b->resize_work, delay);
		else
			mod_delayed_work(b->wq, &b->resize_work, 0);
	}
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

void dmem_queue_notify(struct dmem_balloon *b)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update)
		queue_work(system_freezable_wq, &b->notify_work);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

static void dmem_config_changed(struct virtio_device *vdev)
{
	struct dmem_balloon *b = vdev->priv;

	/* A new target: what an offline took is the host's to replace. */
	WRITE_ONCE(b->offline_wait, false);
	dmem_queue_resize(b, 0);
}

/*
 * Unlike the other queues, the stats queue is driven by the host: we give it
 * one buffer, and each time the host wants fresh numbers it hands that
 * buffer back (this callback); we refill it and return it. Gathering the
 * numbers may sleep, so the answer is prepared in process context.
 */
static void dmem_stats_request(struct virtqueue *vq)
{
	struct dmem_balloon *b = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update)
		queue_work(system_freezable_wq, &b->stats_work);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

static int dmem_find_vqs(struct dmem_balloon *b)
{
	struct virtio_device *vdev = b->vdev;
	struct virtqueue *vqs[DMEM_VQ_MAX];
	const char *names[DMEM_VQ_MAX] = {
		[DMEM_VQ_INFLATE] = "inflate",
		[DMEM_VQ_DEFLATE] = "deflate",
	};
	vq_callback_t *callbacks[DMEM_VQ_MAX] = {
		[DMEM_VQ_INFLATE] = dmem_ack,
		[DMEM_VQ_DEFLATE] = dmem_ack,
	};
	int err;

	/* A NULL name means "no such queue": find_vqs skips it. */
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_STATS_VQ)) {
		names[DMEM_VQ_STATS] = "stats";
		callbacks[DMEM_VQ_STATS] = dmem_stats_request;
	}
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_REPORTING)) {
		names[DMEM_VQ_REPORTING] = "reporting";
		callbacks[DMEM_VQ_REPORTING] = dmem_ack;
	}

#ifdef DMEM_HAVE_VQ_INFO
	{
		struct virtqueue_info info[DMEM_VQ_MAX] = {};
		int i;

		for (i = 0; i < DMEM_VQ_MAX; i++) {
			info[i].name = names[i];
			info[i].callback = callbacks[i];
		}
		err = virtio_find_vqs(vdev, DMEM_VQ_MAX, vqs, info, NULL);
	}
#else
	err = virtio_find_vqs(vdev, DMEM_VQ_MAX, vqs, callbacks, names, NULL);
#endif
	if (err)
		return err;

	b->inflate_vq = vqs[DMEM_VQ_INFLATE];
	b->deflate_vq = vqs[DMEM_VQ_DEFLATE];
	b->stats_vq = names[DMEM_VQ_STATS] ? vqs[DMEM_VQ_STATS] : NULL;
	b->reporting_vq = names[DMEM_VQ_REPORTING] ?
			  vqs[DMEM_VQ_REPORTING] : NULL;
	return 0;
}

/* Give the host the first stats buffer, which it keeps until it wants more. */
static int dmem_prime_stats(struct dmem_balloon *b)
{
	struct scatterlist sg;
	unsigned int n;
	int err;

	if (!b->stats_vq)
		return 0;
	n = dmem_fill_stats(b);
	sg_init_one(&sg, b->stats, sizeof(b->stats[0]) * n);
	err = virtqueue_add_outbuf(b->stats_vq, &sg, 1, b, GFP_KERNEL);
	if (err)
		return err;
	virtqueue_kick(b->stats_vq);
	return 0;
}

/*
 * With PAGE_POISON the host must know what free pages contain, or it would
 * discard reported pages that the kernel expects to read back poisoned.
 */
static void dmem_write_poison(struct dmem_balloon *b)
{
	u32 poison_val = 0;

	if (!virtio_has_feature(b->vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		return;
	/* PAGE_POISON is one byte: no byte swapping needed. */
	if (!want_init_on_free())
		memset(&poison_val, PAGE_POISON, sizeof(poison_val));
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, poison_val,
			 &poison_val);
}

static void dmem_set_stop(struct dmem_balloon *b, bool stop)
{
	spin_lock_irq(&b->stop_lock);
	b->stop_update = stop;
	spin_unlock_irq(&b->stop_lock);
}

/*
 * Bring the device up: queues, poison value, DRIVER_OK, first stats buffer,
 * free page reporting, first resize. On failure the device is left reset,
 * its queues freed.
 */
static int dmem_start(struct dmem_balloon *b)
{
	int err;

	err = dmem_find_vqs(b);
	if (err)
		return err;
	dmem_write_poison(b);
	/* Accept work before the host can first hand the stats buffer back. */
	dmem_set_stop(b, false);
	virtio_device_ready(b->vdev);
	err = dmem_prime_stats(b);
	if (err)
		goto fail;

	if (b->has_reporting) {
		b->pr_dev_info.report = dmem_free_page_report;
		err = -ENOSPC;
		if (virtqueue_get_vring_size(b->reporting_vq) <
		    PAGE_REPORTING_CAPACITY)
			goto fail;
		err = page_reporting_register(&b->pr_dev_info);
		if (err)
			goto fail;
	}
	WRITE_ONCE(b->running, true);
	dmem_queue_resize(b, 0);
	return 0;

fail:
	dmem_set_stop(b, true);
	cancel_delayed_work_sync(&b->resize_work);
	cancel_work_sync(&b->stats_work);
	virtio_reset_device(b->vdev);
	b->vdev->config->del_vqs(b->vdev);
	return err;
}

/*
 * The exact reverse of dmem_start(): stop queueing work, wait for what runs,
 * return every page to the guest (telling the host first), tell the host the
 * balloon is empty, then reset the device and free its queues.
 */
static void dmem_stop(struct dmem_balloon *b)
{
	/* A failed restore left nothing running. */
	if (!b->running)
		return;
	if (b->has_reporting)
		page_reporting_unregister(&b->pr_dev_info);
	dmem_set_stop(b, true);
	cancel_delayed_work_sync(&b->resize_work);
	cancel_work_sync(&b->stats_work);
	cancel_work_sync(&b->notify_work);

	/* Not while a memory block is half offline (hotplug.c). */
	mutex_lock(&b->offline_lock);
	dmem_release_all(b);	/* ends with "actual" at 0 */
	WRITE_ONCE(b->running, false);
	mutex_unlock(&b->offline_lock);

	virtio_reset_device(b->vdev);
	b->vdev->config->del_vqs(b->vdev);
}

static void dmem_free_xfers(struct dmem_balloon *b)
{
	int i;

	for (i = 0; i < DMEM_NR_XFER; i++)
		kfree(b->xfer[i].pfns);
	kfree(b->mig_xfer.pfns);
	kfree(b->log);
}

static int dmem_alloc_xfers(struct dmem_balloon *b)
{
	int i;

	dmem_xfer_init(&b->mig_xfer);
	dmem_xfer_init(&b->log_xfer);
	for (i = 0; i < DMEM_NR_XFER; i++) {
		dmem_xfer_init(&b->xfer[i]);
		b->xfer[i].pfns = kmalloc_array(DMEM_BATCH_PFNS,
						sizeof(__virtio32), GFP_KERNEL);
		if (!b->xfer[i].pfns)
			goto fail;
	}
	b->mig_xfer.pfns = kmalloc_array(DMEM_PAGES_PER_PAGE,
					 sizeof(__virtio32), GFP_KERNEL);
	if (!b->mig_xfer.pfns)
		goto fail;
	return 0;
fail:
	dmem_free_xfers(b);
	return -ENOMEM;
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
	INIT_WORK(&b->notify_work, dmem_notify_work);
	dmem_balloon_init(b);

	err = dmem_alloc_xfers(b);
	if (err)
		goto out_free_b;
	err = -ENOMEM;
	b->wq = alloc_ordered_workqueue("dmem_balloon", WQ_FREEZABLE);
	if (!b->wq)
		goto out_free_xfers;

	/* The workers stay idle until dmem_start() clears stop_update. */
	b->stop_update = true;
	err = dmem_start(b);
	if (err)
		goto out_destroy_wq;

	if (b->deflate_on_oom) {
		b->oom_nb.notifier_call = dmem_oom_notify;
		b->oom_nb.priority = 80;
		err = register_oom_notifier(&b->oom_nb);
		if (err)
			goto out_stop;
	}

	err = dmem_hotplug_init(b);
	if (err)
		goto out_oom;
	err = sysfs_create_group(&vdev->dev.kobj, &dmem_attr_group);
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
	/* Stopped first, as in remove: an offline under way finishes. */
	dmem_stop(b);
	dmem_hotplug_exit(b);
out_oom:
	if (b->deflate_on_oom)
		unregister_oom_notifier(&b->oom_nb);
out_stop:
	dmem_stop(b);
out_destroy_wq:
	destroy_workqueue(b->wq);
out_free_xfers:
	dmem_free_xfers(b);
out_free_b:
	kfree(b);
	return err;
}

static void dmem_remove(struct virtio_device *vdev)
{
	struct dmem_balloon *b = vdev->priv;

	dmem_debugfs_exit(b);
	sysfs_remove_group(&vdev->dev.kobj, &dmem_attr_group);
	if (b->deflate_on_oom)
		unregister_oom_notifier(&b->oom_nb);
	/* Stopped first: a block going offline meanwhile finishes with us. */
	dmem_stop(b);
	dmem_hotplug_exit(b);
	destroy_workqueue(b->wq);
	dmem_free_xfers(b);
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
